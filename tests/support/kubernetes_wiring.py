"""How the objects of a rendered kustomization connect, and where they do not: the mistakes a
schema cannot see (a Service selecting no pod, a ServiceMonitor selecting no Service or naming a
port the Service lacks, a probe on a port the process does not listen on)."""

from typing import Any

import yaml

from tests.support.kubernetes import (
    Manifest,
    config_map_file,
    containers,
    declared_port,
    flag,
    of_kind,
    services_selected,
    workloads_selected,
)

PROBES = ("livenessProbe", "readinessProbe")


def listen_port(objects: list[Manifest], workload: Manifest, container: Manifest) -> int | None:
    """The port the container's process listens on: its --web.listen-address, else its
    --config.file's listen_address (the bridge); None when neither says."""
    command = container.get("command", [])
    listen = flag(command, "--web.listen-address")
    config_file = flag(command, "--config.file")
    if listen is None and config_file is not None:
        config: dict[str, Any] = yaml.safe_load(config_map_file(objects, workload, config_file))
        listen = config.get("listen_address")
    return None if listen is None else int(listen.rpartition(":")[2])


def _service_problems(objects: list[Manifest]) -> list[str]:
    problems = []
    for service in of_kind(objects, "Service"):
        name = service["metadata"]["name"]
        selected = workloads_selected(objects, {"matchLabels": service["spec"]["selector"]})
        if len(selected) != 1:
            problems.append(f"Service {name} selects the pods of {len(selected)} Deployments")
            continue
        (container,) = containers(selected[0])
        for port in service["spec"]["ports"]:
            if declared_port(container, port["targetPort"]) is None:
                problems.append(
                    f"Service {name}: targetPort {port['targetPort']!r} is no port of "
                    f"container {container['name']}"
                )
    return problems


def _monitor_problems(objects: list[Manifest]) -> list[str]:
    problems = []
    for monitor in of_kind(objects, "ServiceMonitor"):
        name = monitor["metadata"]["name"]
        selected = services_selected(objects, monitor["spec"]["selector"])
        if len(selected) != 1:
            problems.append(f"ServiceMonitor {name} selects {len(selected)} Services")
            continue
        ports = {p.get("name") for p in selected[0]["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            if endpoint.get("port") not in ports:
                problems.append(
                    f"ServiceMonitor {name}: port {endpoint.get('port')!r} is no port of "
                    f"Service {selected[0]['metadata']['name']}"
                )
    return problems


def _probe_problems(objects: list[Manifest]) -> list[str]:
    problems = []
    for workload in of_kind(objects, "Deployment"):
        for container in containers(workload):
            listening = listen_port(objects, workload, container)
            for kind in PROBES:
                where = f"Deployment {workload['metadata']['name']} {kind}"
                if kind not in container:
                    problems.append(f"{where} is missing")
                    continue
                port = declared_port(container, container[kind]["httpGet"]["port"])
                if port is None:
                    problems.append(f"{where}: its port is no port of the container")
                elif port != listening:
                    problems.append(f"{where} asks port {port}; the process listens on {listening}")
    return problems


def wiring_problems(objects: list[Manifest]) -> list[str]:
    """Every broken connection between Services, ServiceMonitors, probes and processes."""
    return _service_problems(objects) + _monitor_problems(objects) + _probe_problems(objects)
