"""The deployment files: docker-compose.yml, checked by `docker-compose config` (no Docker daemon
runs here) and against the shipped configs it mounts; the Dockerfile and its build context; the
token the compose file generates; the image's healthcheck, run against the real services."""

import os
import shutil
import stat
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bridge.config import load_config, parse_config
from demo.harness.processes import Process, free_port, venv_script
from demo.harness.stack import PROMETHEUS_DIR, REPO
from tests.support.docker import (
    Instruction,
    Mount,
    copy_sources,
    dockerfile_stages,
    dockerignore_patterns,
    env_values,
    flag_value,
    healthcheck_command,
    in_build_context,
    service_mounts,
)

COMPOSE_FILE = REPO / "docker-compose.yml"
BRIDGE_CONFIG = REPO / "demo" / "bridge.yml"
# Everything the compose file may mount from the repository: the shipped files themselves.
SHIPPED = {
    "prometheus/prometheus.yml",
    "prometheus/rules",
    "prometheus/alertmanager.yml",
    "prometheus/grafana/provisioning/datasources",
    "prometheus/grafana/provisioning/dashboards",
    "prometheus/grafana/dashboards",
    "demo/bridge.yml",
    "demo/bridge-replicas.yml",
}
SERVICES = {"bridge-token", "exporter", "bridge", "prometheus", "alertmanager", "grafana"}
# The `replicas` profile: PostgreSQL and two bridge replicas on it.
REPLICA_SERVICES = {"postgres-password", "postgres", "bridge-a", "bridge-b"}
REPLICAS = ("bridge-a", "bridge-b")
TOKEN_VOLUME = "bridge-data"


def docker_compose(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose not found on PATH: run `make tools` (apt-get install docker-compose)"
        )
    return subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        # No COMPOSE_* or .env from the caller's shell changes what is checked.
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")},
    )


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    """The services as docker-compose resolves them (paths absolute, anchors merged)."""
    result = docker_compose("config")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    found: dict[str, dict[str, Any]] = config["services"]
    return found


def load(relative: str) -> Any:
    return yaml.safe_load((REPO / relative).read_text())


def mount(service: dict[str, Any], source: str) -> Mount:
    """The service's mount of ``source``: a repository path or a volume name."""
    wanted = str(REPO / source) if "/" in source else source
    (found,) = [m for m in service_mounts(service) if m.source == wanted]
    return found


def final_stage() -> list[Instruction]:
    return dockerfile_stages((REPO / "Dockerfile").read_text())[-1]


def init_script(services: dict[str, dict[str, Any]]) -> str:
    argv = services["bridge-token"]["command"]
    assert argv[:2] == ["python", "-c"]
    return str(argv[2])


@pytest.mark.integration
def test_docker_compose_accepts_the_compose_file() -> None:
    result = docker_compose("config", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "WARNING" not in result.stderr, result.stderr


def test_the_services_and_their_images(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES | REPLICA_SERVICES
    assert services["prometheus"]["image"] == "prom/prometheus:v2.42.0"
    assert services["alertmanager"]["image"] == "prom/alertmanager:v0.25.0"
    grafana, _, version = services["grafana"]["image"].partition(":")
    assert grafana == "grafana/grafana-oss"
    assert version[:1].isdigit(), "pin a Grafana version"
    ours = {name for name, service in services.items() if "build" in service}
    assert ours == {"bridge-token", "exporter", "bridge", "postgres-password", *REPLICAS}
    assert services["postgres"]["image"] == "postgres:15"
    assert {services[name]["build"]["context"] for name in ours} == {str(REPO)}
    assert len({services[name]["image"] for name in ours}) == 1


def test_every_service_uses_host_networking(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert service.get("network_mode") == "host", name
        assert "ports" not in service, f"{name}: ports mean nothing with host networking"


def test_bind_mounts_are_the_shipped_files_read_only(services: dict[str, dict[str, Any]]) -> None:
    binds = [m for s in services.values() for m in service_mounts(s) if m.is_bind]
    sources = {str(Path(m.source).relative_to(REPO)) for m in binds}
    assert sources == SHIPPED, "mount the shipped files themselves, never copies"
    for bind in binds:
        assert Path(bind.source).exists(), bind.source
        assert bind.read_only, f"{bind.source} is mounted writable"


def test_dockerfile_runs_as_a_non_root_user(services: dict[str, dict[str, Any]]) -> None:
    users = [i.args for i in final_stage() if i.keyword == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    user, _, group = users[-1].partition(":")
    assert user not in {"root", "0"}
    assert group != "0"
    # The token's owner is the image's user, so the bridge can read it and write its store.
    assert f"BRIDGE_UID, ALERTMANAGER_GID = {user}, 65534" in init_script(services)
    for name in ("exporter", "bridge", *REPLICAS):
        assert "user" not in services[name], f"{name} must keep the image's non-root user"


def test_dockerfile_copy_sources_exist_and_are_in_the_build_context() -> None:
    patterns = dockerignore_patterns(REPO / ".dockerignore")
    stages = dockerfile_stages((REPO / "Dockerfile").read_text())
    sources = [s for stage in stages for i in stage if i.keyword == "COPY" for s in copy_sources(i)]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert in_build_context(source, patterns), f"{source} is left out by .dockerignore"
    assert all(stage[0].args.startswith("python:3.11-slim") for stage in stages)


def wheel_packages(find: dict[str, list[str]]) -> list[str]:
    """The package folders setuptools puts in the wheel, by pyproject's include/exclude."""
    tops = [top for top in REPO.iterdir() if top.is_dir() and not top.name.startswith(".")]
    folders = [p.parent.relative_to(REPO) for top in tops for p in top.rglob("__init__.py")]
    names = {".".join(folder.parts): folder for folder in folders}
    return [
        str(folder)
        for name, folder in names.items()
        if any(fnmatch(name, pattern) for pattern in find["include"])
        and not any(fnmatch(name, pattern) for pattern in find.get("exclude", []))
    ]


def test_build_context_holds_what_pip_install_needs_and_nothing_else() -> None:
    patterns = dockerignore_patterns(REPO / ".dockerignore")
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    needed = ["pyproject.toml", pyproject["project"]["readme"], "demo/retrain_job.py"]
    for package in wheel_packages(pyproject["tool"]["setuptools"]["packages"]["find"]):
        needed += [str(p.relative_to(REPO)) for p in (REPO / package).glob("*.py")]
    for package, files in pyproject["tool"]["setuptools"]["package-data"].items():
        for pattern in files:
            needed += [str(p.relative_to(REPO)) for p in (REPO / package).glob(pattern)]
    for path in needed:
        assert in_build_context(path, patterns), path
    for path in (
        ".git/config",
        ".venv/bin/python",
        "tests/test_deploy.py",
        "docker-compose.yml",
        "bridge/__pycache__/cli.cpython-311.pyc",
        "demo/harness/loop.py",
        "demo/alertmanager.token",
        "demo/drift-bridge-demo.db",
        "demo/drift-bridge-demo.db-wal",
    ):
        assert not in_build_context(path, patterns), path


def scrape_targets(job_name: str) -> list[str]:
    (job,) = [
        j for j in load("prometheus/prometheus.yml")["scrape_configs"] if j["job_name"] == job_name
    ]
    return [target for config in job["static_configs"] for target in config["targets"]]


def bridge_webhook() -> dict[str, Any]:
    receivers = load("prometheus/alertmanager.yml")["receivers"]
    (receiver,) = [r for r in receivers if r["name"] == "drift-bridge"]
    (webhook,) = receiver["webhook_configs"]
    assert isinstance(webhook, dict)
    return webhook


def test_bridge_listens_where_alertmanager_sends_and_prometheus_scrapes(
    services: dict[str, dict[str, Any]],
) -> None:
    listen = load("demo/bridge.yml")["listen_address"]
    assert flag_value(services["bridge"]["command"], "--web.listen-address") is None
    assert urlsplit(bridge_webhook()["url"]).netloc == listen
    assert scrape_targets("drift-bridge") == [listen]
    # The image's default healthcheck is the bridge's.
    assert urlsplit(env_values(final_stage())["HEALTHCHECK_URL"]).netloc == listen


def test_prometheus_scrapes_where_the_exporter_listens(services: dict[str, dict[str, Any]]) -> None:
    exporter = services["exporter"]
    listen = flag_value(exporter["command"], "--web.listen-address")
    assert scrape_targets("drift-exporter") == [listen]
    assert urlsplit(exporter["environment"]["HEALTHCHECK_URL"]).netloc == listen
    # The demo's retraining job resets the model's reference in that exporter.
    job = load("demo/bridge.yml")["targets"]["retrain-job"]["command"]
    assert urlsplit(flag_value(job, "--exporter-url") or "").netloc == listen


def test_prometheus_loads_the_mounted_config_and_rules_and_finds_alertmanager(
    services: dict[str, dict[str, Any]],
) -> None:
    prometheus = services["prometheus"]
    argv = prometheus["command"]
    config_file = flag_value(argv, "--config.file")
    assert mount(prometheus, "prometheus/prometheus.yml").target == config_file
    assert config_file is not None
    rules = mount(prometheus, "prometheus/rules").target
    for rule_file in load("prometheus/prometheus.yml")["rule_files"]:
        # Relative rule files resolve from the config file's directory.
        in_container = os.path.normpath(os.path.join(os.path.dirname(config_file), rule_file))
        assert in_container.startswith(rules + "/"), rule_file
        assert (PROMETHEUS_DIR / "rules" / os.path.relpath(in_container, rules)).is_file()
    assert mount(prometheus, "prometheus-data").target == flag_value(argv, "--storage.tsdb.path")
    alerting = load("prometheus/prometheus.yml")["alerting"]["alertmanagers"]
    targets = [t for am in alerting for config in am["static_configs"] for t in config["targets"]]
    assert targets == [flag_value(services["alertmanager"]["command"], "--web.listen-address")]


def test_alertmanager_loads_the_mounted_config(services: dict[str, dict[str, Any]]) -> None:
    alertmanager = services["alertmanager"]
    argv = alertmanager["command"]
    assert mount(alertmanager, "prometheus/alertmanager.yml").target == flag_value(
        argv, "--config.file"
    )
    assert mount(alertmanager, "alertmanager-data").target == flag_value(argv, "--storage.path")


def test_grafana_provisions_the_datasource_and_dashboard(
    services: dict[str, dict[str, Any]],
) -> None:
    grafana = services["grafana"]
    provisioning = "/etc/grafana/provisioning"  # the image's GF_PATHS_PROVISIONING
    assert "GF_PATHS_PROVISIONING" not in grafana.get("environment", {})
    for kind in ("datasources", "dashboards"):
        source = f"prometheus/grafana/provisioning/{kind}"
        assert mount(grafana, source).target == f"{provisioning}/{kind}"
    (provider,) = load("prometheus/grafana/provisioning/dashboards/drift-retrain-bridge.yml")[
        "providers"
    ]
    assert mount(grafana, "prometheus/grafana/dashboards").target == provider["options"]["path"]
    (datasource,) = load("prometheus/grafana/provisioning/datasources/prometheus.yml")[
        "datasources"
    ]
    prometheus_listen = flag_value(services["prometheus"]["command"], "--web.listen-address")
    assert datasource["url"] == f"http://{prometheus_listen}"


def test_everything_listens_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    """Host networking shares the host's interfaces: nothing (Grafana's admin/admin login
    included) is reachable from other machines unless the user opens it."""
    for name in ("exporter", "prometheus", "alertmanager"):
        listen = flag_value(services[name]["command"], "--web.listen-address") or ""
        assert listen.startswith("127.0.0.1:"), name
    assert load("demo/bridge.yml")["listen_address"].startswith("127.0.0.1:")
    assert flag_value(services["alertmanager"]["command"], "--cluster.listen-address") == ""
    assert services["grafana"]["environment"]["GF_SERVER_HTTP_ADDR"] == "127.0.0.1"


def test_the_token_exists_before_alertmanager_and_the_bridge_start(
    services: dict[str, dict[str, Any]],
) -> None:
    init = services["bridge-token"]
    assert init["restart"] == "no"
    assert init["healthcheck"]["test"] == ["NONE"]  # a one-shot: the image's check means nothing
    for name in ("alertmanager", "bridge"):
        assert services[name]["depends_on"]["bridge-token"] == {
            "condition": "service_completed_successfully"
        }
    assert services["bridge"]["depends_on"]["exporter"] == {"condition": "service_healthy"}


Chown = tuple[str, int, int]


@pytest.fixture
def bridge_volume(
    services: dict[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[Chown]]:
    """The volume as the bridge sees it: bridge.yml (bind-mounted there), then the token the
    init service writes; ownership changes recorded instead of made (they need root)."""
    volume = tmp_path / "volume"
    volume.mkdir()
    shutil.copy(BRIDGE_CONFIG, volume / "bridge.yml")
    chowns: list[Chown] = []
    monkeypatch.setattr(os, "chown", lambda path, uid, gid: chowns.append((path, uid, gid)))
    monkeypatch.chdir(volume)
    exec(compile(init_script(services), "bridge-token", "exec"), {})
    monkeypatch.chdir(tmp_path)
    return volume, chowns


def bridge_working_dir(services: dict[str, dict[str, Any]], volume: Path, elsewhere: Path) -> Path:
    """Where the bridge's container runs it: the volume when its working_dir is the config
    directory, any other directory otherwise (relative secret paths resolve from there)."""
    bridge = services["bridge"]
    config_dir = mount(bridge, TOKEN_VOLUME).target
    return volume if bridge.get("working_dir") == config_dir else elsewhere


def test_the_token_is_generated_once_and_shared_by_alertmanager_and_the_bridge(
    services: dict[str, dict[str, Any]],
    bridge_volume: tuple[Path, list[Chown]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    volume, chowns = bridge_volume
    # Alertmanager reads the token from the volume, where its shipped config looks.
    credentials = bridge_webhook()["http_config"]["authorization"]["credentials_file"]
    alertmanager = services["alertmanager"]
    # A relative credentials_file is resolved from the directory of Alertmanager's config file.
    am_config = flag_value(alertmanager["command"], "--config.file") or ""
    credentials = os.path.join(os.path.dirname(am_config), credentials)
    assert mount(alertmanager, TOKEN_VOLUME).target == os.path.dirname(credentials)
    token_path = volume / os.path.basename(credentials)
    token = token_path.read_text()
    assert len(token.strip()) == 64
    int(token, 16)
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o440
    assert (os.path.basename(credentials), 10001, 65534) in chowns
    assert (".", 10001, 65534) in chowns
    # The bridge sees the same volume as its config directory, bridge.yml bind-mounted in it.
    bridge = services["bridge"]
    config_dir = mount(bridge, TOKEN_VOLUME).target
    config_file = flag_value(bridge["command"], "--config.file") or ""
    assert mount(bridge, "demo/bridge.yml").target == config_file
    assert os.path.dirname(config_file) == config_dir == services["bridge-token"]["working_dir"]
    assert mount(services["bridge-token"], TOKEN_VOLUME).target == config_dir
    monkeypatch.chdir(bridge_working_dir(services, volume, volume.parent))
    config = load_config(volume / "bridge.yml")
    assert config.auth.token is not None
    assert config.auth.token.get() == token.strip()
    assert config.store_path.parent == volume  # the store lives in the volume too
    # A second start keeps the token.
    monkeypatch.chdir(volume)
    exec(compile(init_script(services), "bridge-token", "exec"), {})
    assert token_path.read_text() == token


def run_healthcheck(url: str) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, with this interpreter as its `python`."""
    argv = healthcheck_command(final_stage())
    assert argv[0] == "python"
    return subprocess.run(
        [sys.executable, *argv[1:]],
        env={**os.environ, "HEALTHCHECK_URL": url},
        capture_output=True,
        text=True,
        timeout=30,
    )


def on_port(url: str, port: int, path: str | None = None) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.hostname}:{port}", path=path or parts.path).geturl()


@pytest.mark.integration
def test_healthcheck_passes_against_the_real_exporter_and_fails_otherwise(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    url = services["exporter"]["environment"]["HEALTHCHECK_URL"]
    port = free_port()
    argv = [venv_script("drift-exporter"), "simulate", f"--web.listen-address=127.0.0.1:{port}"]
    with Process("exporter", argv, tmp_path) as exporter:
        exporter.wait_http(f"http://127.0.0.1:{port}/-/healthy")
        passed = run_healthcheck(on_port(url, port))
        assert passed.returncode == 0, passed.stderr
        assert run_healthcheck(on_port(url, port, "/no-such-page")).returncode != 0
    assert run_healthcheck(on_port(url, port)).returncode != 0


@pytest.mark.integration
def test_bridge_serves_from_the_volume_and_passes_the_default_healthcheck(
    services: dict[str, dict[str, Any]], bridge_volume: tuple[Path, list[Chown]], tmp_path: Path
) -> None:
    volume, _ = bridge_volume
    url = env_values(final_stage())["HEALTHCHECK_URL"]
    port = free_port()
    argv = [
        venv_script("drift-bridge"),
        "serve",
        f"--config.file={volume / 'bridge.yml'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    cwd = bridge_working_dir(services, volume, tmp_path)
    with Process("bridge", argv, tmp_path, cwd=cwd) as bridge:
        bridge.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=30)
        passed = run_healthcheck(on_port(url, port))
        assert passed.returncode == 0, passed.stderr
    assert (volume / load("demo/bridge.yml")["store"]["path"]).is_file()
    assert run_healthcheck(on_port(url, port)).returncode != 0


def test_the_replicas_profile_adds_postgresql_and_two_replicas_and_nothing_else(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        assert service.get("profiles", []) == (["replicas"] if name in REPLICA_SERVICES else [])
    listens = [flag_value(services[name]["command"], "--web.listen-address") for name in REPLICAS]
    assert len(set(listens)) == 2
    for name, listen in zip(REPLICAS, listens, strict=True):
        assert listen is not None
        assert listen.startswith("127.0.0.1:")
        assert urlsplit(services[name]["environment"]["HEALTHCHECK_URL"]).netloc == listen
        assert listen != load("demo/bridge.yml")["listen_address"]
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    postgres = services["postgres"]
    assert flag_value_c(postgres["command"], "listen_addresses") == "127.0.0.1"


def flag_value_c(argv: list[str], name: str) -> str | None:
    """The value of ``-c name=value`` in a postgres command line."""
    pairs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-c"]
    return next((p.split("=", 1)[1] for p in pairs if p.startswith(f"{name}=")), None)


def test_the_database_password_is_generated_once_and_read_by_postgres_and_the_replicas(
    services: dict[str, dict[str, Any]],
) -> None:
    config = load("demo/bridge-replicas.yml")["store"]
    assert "@" in config["url"]
    assert ":" not in urlsplit(config["url"]).netloc.split("@")[0]
    postgres = services["postgres"]
    password_file = postgres["environment"]["POSTGRES_PASSWORD_FILE"]
    assert password_file == config["password_file"]
    secret_dir = str(Path(password_file).parent)
    assert mount(postgres, "postgres-secret").target == secret_dir
    for name in REPLICAS:
        assert mount(services[name], "postgres-secret").target == secret_dir
        assert mount(services[name], "postgres-secret").read_only
    init = services["postgres-password"]
    assert init["restart"] == "no"
    script = str(init["command"][2])
    assert 'NAME = "postgres.password"' in script
    assert "O_EXCL" in script
    assert "BRIDGE_UID, POSTGRES_GID = 10001, 999" in script
    assert postgres["depends_on"]["postgres-password"] == {
        "condition": "service_completed_successfully"
    }
    assert urlsplit(config["url"]).port == int(flag_value_c(postgres["command"], "port") or 0)


def test_the_replicas_config_is_valid(tmp_path: Path) -> None:
    data = load("demo/bridge-replicas.yml")
    (tmp_path / "alertmanager.token").write_text("t" * 64)
    (tmp_path / "postgres.password").write_text("p" * 48)
    data["store"]["password_file"] = str(tmp_path / "postgres.password")
    config = parse_config(data, tmp_path / "bridge.yml")
    assert config.store.postgres is not None
    demo = load("demo/bridge.yml")
    for key in ("auth", "targets", "routes"):  # the same demo, on a shared store
        assert data[key] == demo[key], key
