"""The containers of deploy/kubernetes run for real: each Deployment's command, with the same
arguments, against the files its volumes mount (the ConfigMap's bridge.yml, Secret keys, the data
volume) laid out in a temporary directory, the image's PATH first. The probes, the ServiceMonitor's
path and the bridge's token are then asked as the kubelet, Prometheus and Alertmanager would."""

import base64
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from bridge.store.settings import PostgresSettings
from demo.harness.processes import Process, free_port, wait_until
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.fixtures import body
from tests.support.kubernetes import (
    Manifest,
    config_map_file,
    containers,
    flag,
    one,
    pod_template,
    render,
    reroot,
)

pytestmark = pytest.mark.integration

# The Dockerfile puts the project's virtual environment first on PATH; here it is this one's.
IMAGE_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
BRIDGE_CONFIG = "/etc/drift-bridge/bridge.yml"
# The values Kubernetes would mount from the Secrets (created by hand, never in the manifests).
SECRET_VALUES = {
    "drift-bridge-alertmanager": {"token": "k8s-test-token"},
    "drift-bridge-targets": {"jenkins-token": "jenkins-test-token"},
    "drift-bridge-postgresql": {"password": "postgresql-test-password"},
}


class Pod:
    """One Deployment's container laid out under ``root``: every mount path is ``root`` + path."""

    def __init__(self, objects: list[Manifest], name: str, root: Path) -> None:
        self.workload = one(objects, "Deployment", name)
        (self.container,) = containers(self.workload)
        self.root = root
        self.mounts = [m["mountPath"] for m in self.container["volumeMounts"]]
        volumes = {v["name"]: v for v in pod_template(self.workload)["spec"]["volumes"]}
        for mount in self.container["volumeMounts"]:
            directory = self.path(mount["mountPath"])
            directory.mkdir(parents=True, exist_ok=True)
            volume = volumes[mount["name"]]
            if "configMap" in volume:
                for key in one(objects, "ConfigMap", volume["configMap"]["name"])["data"]:
                    text = config_map_file(objects, self.workload, f"{mount['mountPath']}/{key}")
                    (directory / key).write_text(reroot(text, root, self.mounts))
            if "secret" in volume:
                for key, value in SECRET_VALUES[volume["secret"]["secretName"]].items():
                    (directory / key).write_text(value + "\n")

    def path(self, in_container: str) -> Path:
        """Where a path of the container is in the temporary layout."""
        return self.root / in_container.lstrip("/")

    def argv(self, listen: str) -> list[str]:
        """The container's command, its paths moved into the layout, listening on ``listen``
        (loopback here: the pod's own every-interface address would be this machine's)."""
        argv = [reroot(arg, self.root, self.mounts) for arg in self.container["command"]]
        if flag(argv, "--web.listen-address") is not None:
            argv = [a for a in argv if not a.startswith("--web.listen-address=")]
        executable = shutil.which(argv[0], path=IMAGE_PATH)
        assert executable is not None, f"{argv[0]} is not on the image's PATH"
        return [executable, *argv[1:], f"--web.listen-address={listen}"]

    @contextmanager
    def running(self) -> Iterator[tuple[Process, str]]:
        """The container's process on a free loopback port (its log in ``root``); yields it and
        its base URL."""
        port = free_port()
        argv = self.argv(f"127.0.0.1:{port}")
        # The image's WORKDIR: the bridge and its jobs must not need any other.
        home = self.path("/home/drift")
        home.mkdir(parents=True, exist_ok=True)
        name = self.workload["metadata"]["name"]
        with Process(name, argv, self.root, env={"PATH": IMAGE_PATH}, cwd=home) as process:
            yield process, f"http://127.0.0.1:{port}"

    def probe(self, url: str, kind: str) -> requests.Response:
        """Ask a probe as the kubelet does: its path, on our port."""
        get = self.container[kind]["httpGet"]
        return requests.get(f"{url}{get['path']}", timeout=5)


def write_exporter_data(pod: Pod) -> None:
    """A reference and one window of current data where the base's `watch` reads them."""
    rng = np.random.default_rng(0)
    reference = pod.path(flag(pod.container["command"], "--reference") or "")
    current = pod.path(flag(pod.container["command"], "--current") or "")
    current.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame({"age": rng.normal(40, 10, 5000), "city": rng.choice(["a", "b"], 5000)})
    frame.to_csv(reference, index=False)
    shifted = pd.DataFrame({"age": rng.normal(48, 10, 2000), "city": rng.choice(["a", "c"], 2000)})
    shifted.to_csv(current / "0001.csv", index=False)


def drift_scores(url: str) -> dict[str, float]:
    text = requests.get(f"{url}/metrics", timeout=5).text
    scores = {}
    for line in text.splitlines():
        if line.startswith("drift_score{"):
            labels, _, value = line.rpartition(" ")
            scores[labels.split('model="')[1].split('"')[0]] = float(value)
    return scores


@pytest.mark.parametrize("kustomization", ["base", "demo"])
def test_exporter_container_serves_drift_scores_and_its_probes(
    kustomization: str, tmp_path: Path
) -> None:
    pod = Pod(render(kustomization), "drift-exporter", tmp_path / "pod")
    if pod.container["command"][1] == "watch":
        write_exporter_data(pod)
    with pod.running() as (process, url):
        process.wait_http(f"{url}/-/healthy", timeout=60)
        for kind in ("livenessProbe", "readinessProbe"):
            assert pod.probe(url, kind).status_code == 200
        scores = wait_until(lambda: drift_scores(url) or None, 60, "drift_score")
        assert "churn-classifier" in scores
        if kustomization == "base":
            assert scores["churn-classifier"] > 0.2  # the shifted window drifts


def api(url: str, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{url}{path}", headers=headers, timeout=5)


def fire(url: str, token: str, model: str) -> None:
    """Post a ModelDriftHigh notification as Alertmanager sends it, labelled and annotated as
    the shipped rule does."""
    alert = body("firing-single-bearer")
    alert["alerts"][0]["labels"]["model"] = model
    alert["alerts"][0]["annotations"]["drift_score"] = "0.31"
    posted = requests.post(
        f"{url}/alerts", json=alert, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert posted.status_code == 200, posted.text


def finished_dispatch(url: str, token: str, process: Process) -> dict[str, Any]:
    """The one dispatch, once it has succeeded or died."""

    def finished() -> dict[str, Any] | None:
        (dispatch,) = api(url, "/api/dispatches", token).json()["dispatches"]
        return dispatch if dispatch["state"] in {"succeeded", "dead"} else None

    try:
        return wait_until(finished, 90, "the dispatch", interval=0.5)
    except TimeoutError as err:
        raise TimeoutError(f"{err}\n{process.logs()[-3000:]}") from None


@pytest.mark.parametrize("kustomization", ["base", "demo"])
def test_bridge_container_serves_with_its_mounted_config_secrets_and_store(
    kustomization: str, tmp_path: Path
) -> None:
    pod = Pod(render(kustomization), "drift-bridge", tmp_path / "pod")
    config = yaml.safe_load(pod.path(BRIDGE_CONFIG).read_text())
    with pod.running() as (process, url):
        process.wait_http(f"{url}/readyz", timeout=60)
        for kind in ("livenessProbe", "readinessProbe"):
            assert pod.probe(url, kind).status_code == 200
        assert requests.get(f"{url}/metrics", timeout=5).status_code == 200
        token = SECRET_VALUES["drift-bridge-alertmanager"]["token"]
        assert api(url, "/api/dispatches", None).status_code == 401
        assert api(url, "/api/dispatches", "wrong").status_code == 401
        assert api(url, "/api/dispatches", token).status_code == 200
    # The store is on the claim's mount, nowhere else.
    assert Path(config["store"]["path"]).is_file()
    assert Path(config["store"]["path"]).is_relative_to(pod.path("/var/lib/drift-bridge"))


def test_demo_bridge_runs_the_retraining_job_against_the_exporter(tmp_path: Path) -> None:
    """The demo's loop inside the namespace: a drift alert makes the bridge run the example job,
    which resets the model in the simulating exporter (its Service address pointed here)."""
    objects = render("demo")
    exporter = Pod(objects, "drift-exporter", tmp_path / "exporter")
    bridge = Pod(objects, "drift-bridge", tmp_path / "bridge")
    config_path = bridge.path(BRIDGE_CONFIG)
    service = one(objects, "Service", "drift-exporter")
    in_cluster = f"http://drift-exporter:{service['spec']['ports'][0]['port']}"
    with exporter.running() as (exporter_process, exporter_url):
        exporter_process.wait_http(f"{exporter_url}/-/healthy", timeout=60)
        config = config_path.read_text()
        assert in_cluster in config
        config_path.write_text(config.replace(in_cluster, exporter_url))
        with bridge.running() as (bridge_process, url):
            bridge_process.wait_http(f"{url}/readyz", timeout=60)
            token = SECRET_VALUES["drift-bridge-alertmanager"]["token"]
            fire(url, token, "churn-classifier")
            dispatch = finished_dispatch(url, token, bridge_process)
            assert dispatch["state"] == "succeeded", bridge_process.logs()[-3000:]


def test_base_bridge_triggers_jenkins_with_the_token_from_its_secret(tmp_path: Path) -> None:
    """The base's Jenkins target, with its API token read from the mounted Secret key (the
    Jenkins URL pointed at a fake Jenkins here)."""
    pod = Pod(render("base"), "drift-bridge", tmp_path / "pod")
    config_path = pod.path(BRIDGE_CONFIG)
    config = yaml.safe_load(config_path.read_text())
    target = config["targets"]["jenkins"]
    api_token = SECRET_VALUES["drift-bridge-targets"]["jenkins-token"]
    with FakeJenkins() as jenkins:
        jenkins.add_user(target["user"], api_token=api_token)
        (route,) = config["routes"]
        jenkins.add_job(target["job"], {name: "" for name in [*route["parameters"], "DISPATCH_ID"]})
        config_path.write_text(config_path.read_text().replace(target["url"], jenkins.url))
        with pod.running() as (process, url):
            process.wait_http(f"{url}/readyz", timeout=60)
            token = SECRET_VALUES["drift-bridge-alertmanager"]["token"]
            fire(url, token, "churn-classifier")
            dispatch = finished_dispatch(url, token, process)
            assert dispatch["state"] == "succeeded", process.logs()[-3000:]
        (build,) = [r for r in jenkins.received if r.path.endswith("/buildWithParameters")]
        assert build.form["MODEL"] == "churn-classifier"
        assert (
            build.header("Authorization")
            == "Basic " + base64.b64encode(f"{target['user']}:{api_token}".encode()).decode()
        )


@pytest.mark.parametrize("kustomization", ["base", "demo", "ha"])
def test_bridge_config_passes_check_config_as_mounted(kustomization: str, tmp_path: Path) -> None:
    """`drift-bridge check-config` on the ConfigMap's file as the pod sees it, listen address
    included (every interface: allowed because the bridge authenticates)."""
    pod = Pod(render(kustomization), "drift-bridge", tmp_path / "pod")
    command = [reroot(arg, pod.root, pod.mounts) for arg in pod.container["command"]]
    assert command[:2] == ["drift-bridge", "serve"]
    result = subprocess.run(
        [
            shutil.which("drift-bridge", path=IMAGE_PATH) or "drift-bridge",
            "check-config",
            *command[2:],
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": IMAGE_PATH},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": OK" in result.stdout


def test_ha_replicas_share_one_postgresql_store_and_dispatch_once(
    postgres_settings: PostgresSettings, tmp_path: Path
) -> None:
    """The ha overlay's replicas, each with its own mounted files, on one real PostgreSQL: the
    same alert sent to every replica (as Alertmanager's retries may) triggers one build."""
    settings = postgres_settings
    assert settings.password is not None  # the test cluster asks for one
    objects = render("ha")
    replicas = one(objects, "Deployment", "drift-bridge")["spec"]["replicas"]
    pods = [Pod(objects, "drift-bridge", tmp_path / f"pod-{n}") for n in range(replicas)]
    api_token = SECRET_VALUES["drift-bridge-targets"]["jenkins-token"]
    token = SECRET_VALUES["drift-bridge-alertmanager"]["token"]
    with FakeJenkins() as jenkins, ExitStack() as running:
        urls = []
        for pod in pods:
            config_path = pod.path(BRIDGE_CONFIG)
            config = yaml.safe_load(config_path.read_text())
            target, (route,) = config["targets"]["jenkins"], config["routes"]
            if not jenkins.jobs:
                jenkins.add_user(target["user"], api_token=api_token)
                parameters = [*route["parameters"], "DISPATCH_ID"]
                jenkins.add_job(target["job"], dict.fromkeys(parameters, ""))
            text = config_path.read_text().replace(target["url"], jenkins.url)
            config_path.write_text(text.replace(config["store"]["url"], settings.url))
            Path(config["store"]["password_file"]).write_text(settings.password.get() + "\n")
            process, url = running.enter_context(pod.running())
            process.wait_http(f"{url}/readyz", timeout=60)
            urls.append((process, url))
        for _, url in urls:
            fire(url, token, "churn-classifier")
        dispatches = [finished_dispatch(url, token, process) for process, url in urls]
        assert {d["id"] for d in dispatches} == {dispatches[0]["id"]}
        assert dispatches[0]["state"] == "succeeded"
    builds = [r for r in jenkins.received if r.path.endswith("/buildWithParameters")]
    assert len(builds) == 1
