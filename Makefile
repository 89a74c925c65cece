# Everything a fresh Debian machine needs, driven from two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Debian packages the tests and the demo start for real, keyed by the binary that must exist.
# docker-compose only validates docker-compose.yml (`docker-compose config`): no daemon needed.
DEBIAN_TOOLS := prometheus:prometheus promtool:prometheus amtool:prometheus-alertmanager \
                prometheus-alertmanager:prometheus-alertmanager docker-compose:docker-compose

.PHONY: test demo tools venv lint typecheck unit clean

test: tools venv lint typecheck unit

# The whole loop on loopback: exporter -> Prometheus -> Alertmanager -> bridge -> retraining job.
demo: tools venv
	$(BIN)/drift-demo

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,plot]'
	touch $@

# Install Prometheus/Alertmanager/docker-compose from Debian only when a binary is missing.
tools:
	@missing=""; pkgs=""; \
	for pair in $(DEBIAN_TOOLS); do \
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

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
