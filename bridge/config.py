"""The bridge's configuration file (``bridge.yml``), loaded and validated once at start-up.

Every problem is reported with the file and the key; ``drift-bridge check-config`` runs the same
validation. Defaults live here, in the dataclasses.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from bridge.alertmanager import AlertmanagerAPI
from bridge.alertmanager import from_config as alertmanager_from_config
from bridge.backoff import BackoffPolicy
from bridge.config_reader import ConfigError, Reader
from bridge.credentials import Secret, read_secret
from bridge.listen import DEFAULT_LISTEN_ADDRESS, listen_host, listens_on_loopback
from bridge.matchers import Matcher, matches_all
from bridge.retention import RetentionSettings, read_retention
from bridge.store.settings import StoreSettings, read_store
from bridge.targets import Target, build_target
from bridge.templating import Template, TemplateError

# The annotation (or, failing that, label) whose value templates see as ``value``: the gauge
# the exporter publishes, which the alert rule's annotations carry.
DEFAULT_VALUE_FROM = "drift_score"


class AuthType(StrEnum):
    """How callers authenticate (``auth.type``)."""

    NONE = "none"
    BEARER = "bearer"
    BASIC = "basic"


class OnResolve(StrEnum):
    """What a route does when its alert resolves (``on_resolve``)."""

    RECORD = "record"  # close the episode, dispatch nothing
    DISPATCH = "dispatch"  # also dispatch once more, with status resolved


class WorkerClass(StrEnum):
    """How each server process serves (``worker_class``)."""

    # Reads whole requests in an event loop before a thread runs the app: slow or idle
    # clients cannot hold the threads (bench/slow_clients.py).
    WAITRESS = "waitress"
    # gunicorn's own, the server before: only behind a proxy that buffers requests.
    GTHREAD = "gthread"


@dataclass(frozen=True)
class AuthConfig:
    """How Alertmanager authenticates to ``/alerts`` (and callers to ``/api``)."""

    type: AuthType = AuthType.NONE
    token: Secret | None = None
    username: str | None = None
    password: Secret | None = None


@dataclass(frozen=True)
class ServerConfig:
    """The HTTP server."""

    listen_address: str = DEFAULT_LISTEN_ADDRESS
    workers: int = 2
    threads: int = 8
    max_body_bytes: int = 1024 * 1024
    allow_unauthenticated: bool = False
    worker_class: WorkerClass = WorkerClass.WAITRESS


@dataclass(frozen=True)
class DispatchConfig:
    """The outbox worker in each server process."""

    concurrency: int = 4
    poll_interval: float = 1.0
    # A dispatch being sent by a process that died is taken over after this long.
    lease: float = 300.0
    # Read from the user-facing key `dispatch.retry`.
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)


@dataclass(frozen=True)
class Route:
    """Which alerts a route takes, where it dispatches them, and with which parameters."""

    name: str
    matchers: tuple[Matcher, ...]
    target: str
    parameters: dict[str, Template]
    cooldown: float = 3600.0
    cooldown_by: tuple[str, ...] = ("model",)
    on_resolve: OnResolve = OnResolve.RECORD
    dry_run: bool = False
    continue_matching: bool = False


@dataclass(frozen=True)
class BridgeConfig:
    """The whole validated configuration."""

    file: Path
    server: ServerConfig
    auth: AuthConfig
    store: StoreSettings
    dispatch: DispatchConfig
    targets: dict[str, Target]
    routes: tuple[Route, ...]
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    dry_run: bool = False
    # The annotation (or, failing that, label) whose value templates see as ``value``.
    value_from: str = DEFAULT_VALUE_FROM
    # Where alerts left out of a notification (max_alerts) are fetched; None: they are not.
    alertmanager: "AlertmanagerAPI | None" = None

    def route(self, name: str) -> Route | None:
        """The route called ``name``, if the config has one (names are unique)."""
        return next((route for route in self.routes if route.name == name), None)

    @property
    def store_path(self) -> Path:
        """The SQLite file (the default store; unused when ``store.url`` names PostgreSQL)."""
        return self.store.path

    def routes_for(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with ``labels`` takes: the first match, and more with continue."""
        chosen = []
        for route in self.routes:
            if matches_all(route.matchers, labels):
                chosen.append(route)
                if not route.continue_matching:
                    break
        return chosen


def load_config(
    path: Path, listen_address: str | None = None, check_secrets: bool = True
) -> BridgeConfig:
    """Read and validate ``path``; raise ConfigError listing every problem.

    ``listen_address`` (from the command line) replaces the file's before validation.
    ``check_secrets=False`` (for commands that send nothing) skips reading the secret files.
    """
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError([f"{path}: cannot read: {err.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError([f"{path}: not valid YAML: {err}"]) from None
    if listen_address is not None and isinstance(data, dict):
        data = {**data, "listen_address": listen_address}
    return parse_config(data, path, check_secrets)


def parse_config(data: Any, path: Path, check_secrets: bool = True) -> BridgeConfig:
    """Validate an already parsed document that came from ``path``."""
    problems: list[str] = []
    root = Reader(data, str(path), problems, check_secrets=check_secrets)
    server = _server(root)
    auth = _auth(root.child("auth"))
    if auth.type == AuthType.NONE and not server.allow_unauthenticated:
        valid = listen_host(server.listen_address) is not None
        if valid and not listens_on_loopback(server.listen_address):
            root.problem(
                "auth",
                f"is required when listening on {server.listen_address} (not loopback); set "
                "auth, or allow_unauthenticated: true if something in front authenticates",
            )
    store = read_store(root.child("store"))
    dispatch = _dispatch(root.child("dispatch"))
    targets = {}
    declared = set()
    for name, reader in root.named_children("targets", required=True):
        declared.add(name)
        target = build_target(name, reader)
        if target is not None:
            targets[name] = target
    routes = tuple(_route(reader, declared) for reader in root.children("routes", required=True))
    names = [route.name for route in routes]
    for name in sorted({n for n in names if names.count(n) > 1}):
        root.problem("routes", f"route name {name!r} is used more than once")
    config = BridgeConfig(
        file=path,
        server=server,
        auth=auth,
        store=store,
        retention=read_retention(root.child("retention")),
        dispatch=dispatch,
        targets=targets,
        routes=routes,
        dry_run=root.boolean("dry_run", False),
        value_from=root.string("value_from", DEFAULT_VALUE_FROM),
        alertmanager=alertmanager_from_config(root.child("alertmanager")),
    )
    root.reject_unknown()
    if problems:
        raise ConfigError(problems)
    return config


def _server(root: Reader) -> ServerConfig:
    defaults = ServerConfig()
    listen = root.string("listen_address", defaults.listen_address)
    if listen_host(listen) is None:
        root.problem(
            "listen_address", f"expected HOST:PORT, e.g. {DEFAULT_LISTEN_ADDRESS}; got {listen!r}"
        )
    return ServerConfig(
        listen_address=listen,
        workers=root.integer("workers", defaults.workers, minimum=1),
        threads=root.integer("threads", defaults.threads, minimum=1),
        max_body_bytes=root.integer("max_body_bytes", defaults.max_body_bytes, minimum=1024),
        allow_unauthenticated=root.boolean("allow_unauthenticated", False),
        worker_class=WorkerClass(
            root.string("worker_class", defaults.worker_class, choices=list(WorkerClass))
        ),
    )


def _auth(reader: Reader) -> AuthConfig:
    kind = reader.string("type", AuthType.NONE, choices=list(AuthType))
    config = AuthConfig()
    if kind == AuthType.BEARER:
        config = AuthConfig(type=AuthType.BEARER, token=read_secret(reader, "token"))
    elif kind == AuthType.BASIC:
        config = AuthConfig(
            type=AuthType.BASIC,
            username=reader.string("username"),
            password=read_secret(reader, "password"),
        )
    reader.reject_unknown()
    return config


def _dispatch(reader: Reader) -> DispatchConfig:
    defaults = DispatchConfig()
    backoff_reader = reader.child("retry")
    base = BackoffPolicy()
    backoff = BackoffPolicy(
        initial_delay=backoff_reader.duration("initial_delay", base.initial_delay, minimum=0.001),
        multiplier=float(backoff_reader.integer("multiplier", int(base.multiplier), minimum=1)),
        max_delay=backoff_reader.duration("max_delay", base.max_delay, minimum=0.001),
        deadline=backoff_reader.duration("deadline", base.deadline, minimum=1.0),
    )
    backoff_reader.reject_unknown()
    config = DispatchConfig(
        concurrency=reader.integer("concurrency", defaults.concurrency, minimum=1),
        poll_interval=reader.duration("poll_interval", defaults.poll_interval, minimum=0.01),
        lease=reader.duration("lease", defaults.lease, minimum=1.0),
        backoff=backoff,
    )
    # Leases of attempts in flight are renewed between polls; a lease shorter than a few polls
    # would expire under a running attempt and let another process make it again.
    if config.lease < 3 * config.poll_interval:
        reader.problem(
            "lease",
            f"must be at least 3 x poll_interval ({3 * config.poll_interval:g}s), "
            f"got {config.lease:g}s",
        )
    reader.reject_unknown()
    return config


def _route(reader: Reader, targets: set[str]) -> Route:
    # ``targets``: every declared name, usable or not; a target with problems of its own is
    # reported there, not again as unknown here.
    name = reader.string("name")
    matchers = []
    for index, text in enumerate(reader.strings("matchers", [])):
        try:
            matchers.append(Matcher.parse(text))
        except ValueError as err:
            reader.problem(f"matchers[{index}]", str(err))
    target = reader.string("target")
    if isinstance(target, str) and target and target not in targets:
        known = ", ".join(sorted(targets)) or "none defined"
        reader.problem("target", f"unknown target {target!r} (targets: {known})")
    parameters = {}
    for key, source in reader.string_map("parameters", {}).items():
        try:
            parameters[key] = Template(source, f"{reader.key_path('parameters')}.{key}")
        except TemplateError as err:
            reader.problems.append(f"{reader.file}: {err}")
    defaults = Route(name="", matchers=(), target="", parameters={})
    route = Route(
        name=name,
        matchers=tuple(matchers),
        target=target,
        parameters=parameters,
        cooldown=reader.duration("cooldown", defaults.cooldown),
        cooldown_by=tuple(reader.strings("cooldown_by", list(defaults.cooldown_by))),
        on_resolve=OnResolve(
            reader.string("on_resolve", defaults.on_resolve, choices=list(OnResolve))
        ),
        dry_run=reader.boolean("dry_run", False),
        continue_matching=reader.boolean("continue", False),
    )
    reader.reject_unknown()
    return route
