"""deploy/kubernetes rendered by `kubectl kustomize` (base and every overlay), validated offline:
every object against the Kubernetes API schemas (kubernetes-validate) and the Prometheus
Operator's CRDs (cloudcoil's models of them), then checked across objects for the mistakes a
schema cannot see: a Service selecting no pod, a ServiceMonitor selecting no Service or naming a
port that does not exist, a probe on the wrong port or path, a secret file nothing mounts."""

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pydantic
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1, v1alpha1

from deploy.kubernetes.generate import REPO
from tests.support.kubernetes import (
    Manifest,
    config_map_file,
    container_port,
    containers,
    flag,
    labels,
    of_kind,
    one,
    pod_template,
    render,
    selects,
    services_selected,
    workloads_selected,
)
from tests.support.kubernetes_wiring import wiring_problems

pytestmark = pytest.mark.integration  # every test renders with the real kubectl

# The oldest and newest Kubernetes versions whose API schemas the manifests must satisfy.
KUBERNETES_VERSIONS = ["1.29", "1.37"]
OPERATOR_MODELS: dict[str, type[pydantic.BaseModel]] = {
    "ServiceMonitor": v1.ServiceMonitor,
    "PrometheusRule": v1.PrometheusRule,
    "AlertmanagerConfig": v1alpha1.AlertmanagerConfig,
}
KINDS = {
    "base": {
        "Namespace",
        "ConfigMap",
        "Service",
        "PersistentVolumeClaim",
        "Deployment",
        "NetworkPolicy",
        *OPERATOR_MODELS,
    },
}
KINDS["demo"] = KINDS["base"]
KINDS["ha"] = KINDS["base"] | {"PodDisruptionBudget"}
BRIDGE_CONFIG = "/etc/drift-bridge/bridge.yml"


def deployment(manifests: list[Manifest], name: str) -> Manifest:
    return one(manifests, "Deployment", name)


def bridge_config(manifests: list[Manifest]) -> dict[str, Any]:
    bridge = deployment(manifests, "drift-bridge")
    (container,) = containers(bridge)
    assert flag(container["command"], "--config.file") == BRIDGE_CONFIG
    config: dict[str, Any] = yaml.safe_load(config_map_file(manifests, bridge, BRIDGE_CONFIG))
    return config


def operator_errors(obj: Manifest) -> list[str]:
    """What the operator's CRD schema refuses in an object: invalid values, and fields it does
    not know (the models ignore those, so they are found by what a round trip drops)."""
    model = OPERATOR_MODELS[obj["kind"]]
    try:
        parsed = model.model_validate(obj)
    except pydantic.ValidationError as error:
        return [str(error)]
    kept = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    return [] if kept == obj else [f"unknown fields: {_dropped(obj, kept)}"]


def _dropped(given: Any, kept: Any, path: str = "") -> list[str]:
    if isinstance(given, dict) and isinstance(kept, dict):
        return [
            p
            for key, value in given.items()
            for p in (
                [f"{path}.{key}"]
                if key not in kept
                else _dropped(value, kept[key], f"{path}.{key}")
            )
        ]
    if isinstance(given, list) and isinstance(kept, list):
        return [
            p
            for i, (a, b) in enumerate(zip(given, kept, strict=False))
            for p in _dropped(a, b, f"{path}[{i}]")
        ]
    return [] if given == kept else [path]


# --- schemas -------------------------------------------------------------------------------


def test_each_kustomization_renders_the_expected_kinds(
    kustomization: str, manifests: list[Manifest]
) -> None:
    assert {o["kind"] for o in manifests} == KINDS[kustomization]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_api_schemas(
    manifests: list[Manifest], version: str
) -> None:
    for obj in manifests:
        if obj["kind"] in OPERATOR_MODELS:
            continue
        # strict: a field the API does not know (a typo) is an error, as `kubectl apply` says.
        kubernetes_validate.validate(obj, version, strict=True)


def test_every_prometheus_operator_object_is_valid_against_its_crd(
    manifests: list[Manifest],
) -> None:
    found = [o for o in manifests if o["kind"] in OPERATOR_MODELS]
    assert {o["kind"] for o in found} == set(OPERATOR_MODELS)
    for obj in found:
        assert operator_errors(obj) == [], f"{obj['kind']} {obj['metadata']['name']}"


def test_the_schema_checks_catch_a_typo_and_a_bad_value() -> None:
    """Neither check is vacuous: each refuses a misspelt field and an invalid value."""
    objects = render("base")
    bridge = deployment(objects, "drift-bridge")
    bridge["spec"]["replica"] = bridge["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bridge, KUBERNETES_VERSIONS[-1], strict=True)
    monitor = one(objects, "ServiceMonitor", "drift-exporter")
    endpoint = monitor["spec"]["endpoints"][0]
    endpoint["scrapeInterval"] = endpoint.pop("interval")
    assert operator_errors(monitor) == ["unknown fields: ['.spec.endpoints[0].scrapeInterval']"]
    route = one(objects, "AlertmanagerConfig")
    route["spec"]["route"]["matchers"][0]["matchType"] = "=="
    assert operator_errors(route)


# --- one namespace, one release label --------------------------------------------------------


def test_every_object_lives_in_the_namespace_it_creates(manifests: list[Manifest]) -> None:
    """One namespace: the AlertmanagerConfig's namespace matcher then matches the alerts on the
    exporter's series, which the ServiceMonitor labels with the exporter's namespace."""
    namespace = one(manifests, "Namespace")["metadata"]["name"]
    for obj in manifests:
        assert labels(obj)["app.kubernetes.io/part-of"] == "drift-retrain-bridge"
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == namespace, obj["metadata"]["name"]


def test_the_operator_objects_carry_one_release_label(manifests: list[Manifest]) -> None:
    releases = {labels(o).get("release") for o in manifests if o["kind"] in OPERATOR_MODELS}
    assert releases == {"kube-prometheus-stack"}
    dashboard = one(manifests, "ConfigMap", "drift-retrain-bridge-dashboard")
    assert labels(dashboard)["grafana_dashboard"] == "1"


# --- workloads, Services, ServiceMonitors ----------------------------------------------------


def test_deployments_select_their_own_pods_and_only_them(manifests: list[Manifest]) -> None:
    for workload in of_kind(manifests, "Deployment"):
        selector = workload["spec"]["selector"]
        assert workloads_selected(manifests, selector) == [workload]


def test_services_service_monitors_and_probes_reach_the_processes(
    manifests: list[Manifest],
) -> None:
    assert wiring_problems(manifests) == []


def _rename_selector(objects: list[Manifest]) -> None:
    one(objects, "Service", "drift-bridge")["spec"]["selector"]["app.kubernetes.io/name"] = "bridge"


def _wrong_target_port(objects: list[Manifest]) -> None:
    one(objects, "Service", "drift-exporter")["spec"]["ports"][0]["targetPort"] = "http-metrics"


def _monitor_selects_nothing(objects: list[Manifest]) -> None:
    selector = one(objects, "ServiceMonitor", "drift-bridge")["spec"]["selector"]
    selector["matchLabels"] = {"app": "drift-bridge"}


def _monitor_port_renamed(objects: list[Manifest]) -> None:
    one(objects, "ServiceMonitor", "drift-exporter")["spec"]["endpoints"][0]["port"] = "web"


def _probe_on_another_port(objects: list[Manifest]) -> None:
    (container,) = containers(deployment(objects, "drift-bridge"))
    container["ports"].append({"name": "admin", "containerPort": 9913})
    container["readinessProbe"]["httpGet"]["port"] = "admin"


def _probe_on_an_undeclared_port(objects: list[Manifest]) -> None:
    (container,) = containers(deployment(objects, "drift-exporter"))
    container["livenessProbe"]["httpGet"]["port"] = 9912


@pytest.mark.parametrize(
    ("mistake", "problem"),
    [
        (_rename_selector, "Service drift-bridge selects the pods of 0 Deployments"),
        (
            _wrong_target_port,
            "Service drift-exporter: targetPort 'http-metrics' is no port of container exporter",
        ),
        (_monitor_selects_nothing, "ServiceMonitor drift-bridge selects 0 Services"),
        (
            _monitor_port_renamed,
            "ServiceMonitor drift-exporter: port 'web' is no port of Service drift-exporter",
        ),
        (
            _probe_on_another_port,
            "Deployment drift-bridge readinessProbe asks port 9913; the process listens on 9912",
        ),
        (
            _probe_on_an_undeclared_port,
            "Deployment drift-exporter livenessProbe: its port is no port of the container",
        ),
    ],
)
def test_each_common_wiring_mistake_is_caught(
    mistake: Callable[[list[Manifest]], None], problem: str
) -> None:
    objects = render("base")
    mistake(objects)
    assert wiring_problems(objects) == [problem]


def test_service_monitors_scrape_metrics_of_their_namesake_service_here(
    manifests: list[Manifest],
) -> None:
    monitors = of_kind(manifests, "ServiceMonitor")
    assert {m["metadata"]["name"] for m in monitors} == {"drift-exporter", "drift-bridge"}
    for monitor in monitors:
        # Without a namespaceSelector the operator looks in the ServiceMonitor's namespace.
        assert "namespaceSelector" not in monitor["spec"]
        (service,) = services_selected(manifests, monitor["spec"]["selector"])
        assert service["metadata"]["name"] == monitor["metadata"]["name"]
        assert [e["path"] for e in monitor["spec"]["endpoints"]] == ["/metrics"]


def test_the_bridge_listens_on_its_container_port_on_every_interface(
    manifests: list[Manifest],
) -> None:
    (container,) = containers(deployment(manifests, "drift-bridge"))
    host, _, port = bridge_config(manifests)["listen_address"].rpartition(":")
    assert host == "0.0.0.0", "a pod's loopback is unreachable from Alertmanager and Prometheus"
    assert int(port) == container_port(container, "http")


def test_the_exporter_listens_on_its_container_port_on_every_interface(
    manifests: list[Manifest],
) -> None:
    (container,) = containers(deployment(manifests, "drift-exporter"))
    listen = flag(container["command"], "--web.listen-address") or ""
    host, _, port = listen.rpartition(":")
    assert host in {"", "0.0.0.0"}
    assert int(port) == container_port(container, "metrics")


@pytest.mark.parametrize(
    ("name", "liveness", "readiness"),
    [("drift-bridge", "/healthz", "/readyz"), ("drift-exporter", "/-/healthy", "/-/healthy")],
)
def test_probes_ask_the_health_endpoints(
    manifests: list[Manifest], name: str, liveness: str, readiness: str
) -> None:
    (container,) = containers(deployment(manifests, name))
    assert container["livenessProbe"]["httpGet"]["path"] == liveness
    assert container["readinessProbe"]["httpGet"]["path"] == readiness


# --- security and resources ------------------------------------------------------------------


def test_pods_run_as_the_image_user_on_a_read_only_root_filesystem(
    manifests: list[Manifest],
) -> None:
    for workload in of_kind(manifests, "Deployment"):
        spec = pod_template(workload)["spec"]
        assert spec["automountServiceAccountToken"] is False
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True
        # The Dockerfile's USER: the same uid owns the volumes (fsGroup) in Compose and here.
        assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (10001, 10001, 10001)
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            # Writable places are volumes: /tmp for gunicorn's heartbeats and job output.
            assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys()
            assert "memory" in resources["limits"]


def mounted_volume(workload: Manifest, path: str) -> tuple[Manifest, Manifest]:
    """The volume mount under which a file path lies (the deepest), and its volume."""
    (container,) = containers(workload)
    mounts = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
    assert mounts, f"{path} is on no volume: the root filesystem is read-only and has no secrets"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    (volume,) = [v for v in pod_template(workload)["spec"]["volumes"] if v["name"] == mount["name"]]
    return mount, volume


def secret_files(config: dict[str, Any]) -> list[str]:
    """Every *_file setting of a bridge configuration (secrets are read from files)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key.endswith("_file") and isinstance(item, str):
                    found.append(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(config)
    return found


def test_every_secret_file_of_the_bridge_config_is_a_mounted_secret_key(
    manifests: list[Manifest],
) -> None:
    bridge = deployment(manifests, "drift-bridge")
    files = secret_files(bridge_config(manifests))
    assert files
    for path in files:
        mount, volume = mounted_volume(bridge, path)
        assert mount["readOnly"] is True
        assert "secret" in volume, f"{path} must come from a Secret"
        # Group 10001 (fsGroup) may read it, nobody else.
        assert volume["secret"]["defaultMode"] == 0o440


def test_every_volume_mount_names_a_volume(manifests: list[Manifest]) -> None:
    for workload in of_kind(manifests, "Deployment"):
        volumes = {v["name"] for v in pod_template(workload)["spec"]["volumes"]}
        mounted = {m["name"] for c in containers(workload) for m in c["volumeMounts"]}
        assert mounted == volumes


def test_claims_mounted_are_the_claims_declared(manifests: list[Manifest]) -> None:
    claimed = {
        v["persistentVolumeClaim"]["claimName"]
        for w in of_kind(manifests, "Deployment")
        for v in pod_template(w)["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claimed == {c["metadata"]["name"] for c in of_kind(manifests, "PersistentVolumeClaim")}


# --- the bridge's store: SQLite on a claim (base, demo) or PostgreSQL (ha) ----------------------


@pytest.mark.parametrize("name", ["base", "demo"])
def test_sqlite_bridge_is_one_pod_that_stops_before_its_successor_starts(name: str) -> None:
    objects = render(name)
    bridge = deployment(objects, "drift-bridge")
    assert bridge["spec"]["replicas"] == 1
    assert bridge["spec"]["strategy"] == {"type": "Recreate"}
    store = bridge_config(objects)["store"]
    assert store.keys() == {"path"}
    mount, volume = mounted_volume(bridge, store["path"])
    assert not mount.get("readOnly", False)
    assert volume["persistentVolumeClaim"]["claimName"] == "drift-bridge-data"
    claim = one(objects, "PersistentVolumeClaim", "drift-bridge-data")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_ha_bridge_runs_several_pods_on_postgresql_across_nodes() -> None:
    objects = render("ha")
    bridge = deployment(objects, "drift-bridge")
    replicas = bridge["spec"]["replicas"]
    assert replicas >= 2
    assert bridge["spec"]["strategy"]["type"] == "RollingUpdate"
    assert bridge["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    store = bridge_config(objects)["store"]
    assert urlsplit(store["url"]).scheme == "postgresql"
    assert urlsplit(store["url"]).password is None, "the password comes from a Secret"
    _, volume = mounted_volume(bridge, store["password_file"])
    assert volume["secret"]["secretName"] == "drift-bridge-postgresql"
    assert "drift-bridge-data" not in {
        c["metadata"]["name"] for c in of_kind(objects, "PersistentVolumeClaim")
    }
    (term,) = pod_template(bridge)["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert workloads_selected(objects, term["podAffinityTerm"]["labelSelector"]) == [bridge]
    budget = one(objects, "PodDisruptionBudget", "drift-bridge")
    assert workloads_selected(objects, budget["spec"]["selector"]) == [bridge]
    assert 1 <= budget["spec"]["minAvailable"] < replicas


def without(config: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in keys}


def test_ha_bridge_config_is_the_base_one_but_for_the_store() -> None:
    assert without(bridge_config(render("ha")), "store") == without(
        bridge_config(render("base")), "store"
    )


def test_demo_bridge_config_is_the_compose_demo_one_with_kubernetes_addresses() -> None:
    compose = yaml.safe_load((REPO / "demo" / "bridge.yml").read_text())
    demo = bridge_config(render("demo"))
    assert without(demo, "listen_address", "auth", "store", "targets") == without(
        compose, "listen_address", "auth", "store", "targets"
    )
    (name,) = demo["targets"]
    job = demo["targets"][name]["command"]
    expected = compose["targets"][name]["command"]
    exporter = job[job.index("--exporter-url") + 1]
    assert job[: job.index("--exporter-url")] == expected[: expected.index("--exporter-url")]
    # The exporter's Service, in the bridge's namespace.
    service = one(render("demo"), "Service", "drift-exporter")
    assert urlsplit(exporter).netloc == f"drift-exporter:{service['spec']['ports'][0]['port']}"


def test_demo_exporter_simulates_without_a_data_volume() -> None:
    objects = render("demo")
    (container,) = containers(deployment(objects, "drift-exporter"))
    assert container["command"][:2] == ["drift-exporter", "simulate"]
    claims = {c["metadata"]["name"] for c in of_kind(objects, "PersistentVolumeClaim")}
    assert claims == {"drift-bridge-data"}


def test_base_exporter_watches_the_data_volume_read_only() -> None:
    objects = render("base")
    exporter = deployment(objects, "drift-exporter")
    (container,) = containers(exporter)
    assert container["command"][:2] == ["drift-exporter", "watch"]
    for option in ("--reference", "--current"):
        mount, volume = mounted_volume(exporter, flag(container["command"], option) or "")
        assert mount["readOnly"] is True
        assert volume["persistentVolumeClaim"]["claimName"] == "drift-exporter-data"


# --- Alertmanager -> bridge, and who may connect -----------------------------------------------


def test_alertmanager_config_sends_to_the_bridge_service_with_the_bridge_token(
    manifests: list[Manifest],
) -> None:
    config = one(manifests, "AlertmanagerConfig")
    (receiver,) = config["spec"]["receivers"]
    assert config["spec"]["route"]["receiver"] == receiver["name"]
    (webhook,) = receiver["webhookConfigs"]
    assert webhook["sendResolved"] is True
    url = urlsplit(webhook["url"])
    service = one(manifests, "Service", "drift-bridge")
    namespace = service["metadata"]["namespace"]
    # Alertmanager runs in another namespace: the Service's name alone would not resolve.
    assert url.hostname == f"drift-bridge.{namespace}.svc"
    assert url.port == service["spec"]["ports"][0]["port"]
    assert url.path == "/alerts"
    authorization = webhook["httpConfig"]["authorization"]
    assert authorization["type"] == "Bearer"
    bridge_auth = bridge_config(manifests)["auth"]
    assert bridge_auth["type"] == "bearer"
    _, volume = mounted_volume(deployment(manifests, "drift-bridge"), bridge_auth["token_file"])
    # The same Secret and key: what Alertmanager sends is what the bridge expects.
    assert authorization["credentials"] == {
        "name": volume["secret"]["secretName"],
        "key": bridge_auth["token_file"].rpartition("/")[2],
    }


def peers(rule: dict[str, Any]) -> set[str]:
    """The app.kubernetes.io/name of the pods an ingress rule admits (with their namespace)."""
    found = set()
    for peer in rule["from"]:
        name = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
        found.add(f"{namespace.get('kubernetes.io/metadata.name', 'own')}/{name}")
    return found


def test_network_policies_admit_only_alertmanager_and_prometheus(
    kustomization: str, manifests: list[Manifest]
) -> None:
    policies = {p["metadata"]["name"]: p for p in of_kind(manifests, "NetworkPolicy")}
    assert set(policies) == {"drift-bridge", "drift-exporter"}
    for name, policy in policies.items():
        (workload,) = workloads_selected(manifests, policy["spec"]["podSelector"])
        assert workload["metadata"]["name"] == name
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        (container,) = containers(workload)
        for rule in policy["spec"]["ingress"]:
            for port in rule["ports"]:
                container_port(container, port["port"])
    (bridge_rule,) = policies["drift-bridge"]["spec"]["ingress"]
    assert peers(bridge_rule) == {"monitoring/alertmanager", "monitoring/prometheus"}
    exporter_peers = [peers(r) for r in policies["drift-exporter"]["spec"]["ingress"]]
    expected = [{"monitoring/prometheus"}]
    if kustomization == "demo":
        # The demo's retraining job, run by the bridge, resets the model in the exporter.
        expected.append({"own/drift-bridge"})
    assert exporter_peers == expected


def test_network_policy_peers_are_the_pods_the_operator_labels() -> None:
    """The operator labels Alertmanager and Prometheus pods app.kubernetes.io/name
    alertmanager / prometheus; a selector written another way would admit nobody."""
    policy = one(render("base"), "NetworkPolicy", "drift-bridge")
    for peer in policy["spec"]["ingress"][0]["from"]:
        assert selects(peer["podSelector"], {"app.kubernetes.io/name": "alertmanager"}) or selects(
            peer["podSelector"], {"app.kubernetes.io/name": "prometheus"}
        )


def readme_secrets() -> dict[str, set[str]]:
    """The Secrets (name: keys) the README's "Run it on Kubernetes" tells users to create."""
    text = (REPO / "README.md").read_text()
    start = text.index("## Run it on Kubernetes\n")
    section = text[start : text.index("\n## ", start + 1)].replace("\\\n", " ")
    found: dict[str, set[str]] = {}
    for command in re.findall(r"create secret generic (.+)", section):
        name = command.split()[0]
        found[name] = set(re.findall(r"--from-(?:literal|file)=([\w.-]+)=", command))
    return found


def test_the_readme_creates_every_secret_and_key_the_pods_mount(
    kustomization: str, manifests: list[Manifest]
) -> None:
    created = readme_secrets()
    bridge = deployment(manifests, "drift-bridge")
    needed: dict[str, set[str]] = {}
    for path in secret_files(bridge_config(manifests)):
        _, volume = mounted_volume(bridge, path)
        needed.setdefault(volume["secret"]["secretName"], set()).add(path.rpartition("/")[2])
    assert needed
    for name, keys in needed.items():
        assert keys <= created.get(name, set()), f"{kustomization}: Secret {name}"
    # Every Secret volume is one the config reads from: nothing mounted for nothing.
    mounted = {
        v["secret"]["secretName"] for v in pod_template(bridge)["spec"]["volumes"] if "secret" in v
    }
    assert mounted == set(needed)
