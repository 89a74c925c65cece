"""``drift-bridge``: serve, check-config, replay, and the dead-letter commands."""

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bridge import __version__, logs
from bridge.config import BridgeConfig, load_config
from bridge.config_reader import ConfigError
from bridge.store import StoreError
from bridge.store.opening import open_store
from bridge.targets.command import CommandTarget
from bridge.targets.github import GitHubTarget
from bridge.targets.github_runs import run_name_problem
from common.addresses import check_can_listen, parse_listen_address

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "bridge.yml"


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config.file",
        dest="config_file",
        type=Path,
        default=Path(DEFAULT_CONFIG),
        help=f"configuration file (default {DEFAULT_CONFIG})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``drift-bridge``."""
    parser = argparse.ArgumentParser(
        prog="drift-bridge",
        description="Receive Alertmanager webhooks; dispatch one retraining per drift episode.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log.level",
        dest="log_level",
        choices=["debug", "info", "warning", "error"],
        default="info",
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        choices=list(logs.FORMATS),
        default="text",
        help="text (default) or json: one object per line, for Loki or ELK",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the bridge (gunicorn)")
    _add_config(serve)
    serve.add_argument(
        "--web.listen-address",
        dest="listen",
        help="override listen_address of the config file",
    )
    check = commands.add_parser("check-config", help="validate a config file; list every problem")
    _add_config(check)
    check.add_argument(
        "--strict",
        action="store_true",
        help="warnings are errors (e.g. a command target's program missing on this machine)",
    )
    replay = commands.add_parser(
        "replay", help="show the routes and exact requests a webhook payload would cause"
    )
    replay.add_argument("payload", type=Path, help="a webhook body (JSON), or a captured request")
    _add_config(replay)
    migrate = commands.add_parser(
        "migrate", help="create or upgrade the store's schema (serve also does it at start)"
    )
    _add_config(migrate)
    dispatches = commands.add_parser("dispatches", help="list, show and retry dispatches")
    _add_config(dispatches)
    actions = dispatches.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="recent dispatches, newest first")
    listing.add_argument(
        "--state", help="only this state (pending, sending, succeeded, dead, dry_run)"
    )
    listing.add_argument("--limit", type=int, default=20)
    show = actions.add_parser("show", help="one dispatch's audit trail as JSON")
    show.add_argument("dispatch_id")
    retry = actions.add_parser("retry", help="send a dead-lettered dispatch again")
    retry.add_argument("dispatch_id")
    return parser


def _load(args: argparse.Namespace) -> BridgeConfig:
    return load_config(args.config_file)


def _cmd_serve(args: argparse.Namespace) -> int:
    from bridge.server import BridgeServer

    config = load_config(args.config_file, listen_address=args.listen)
    # gunicorn would retry a taken port for seconds, a dozen lines of log: one line instead.
    host, port = parse_listen_address(config.server.listen_address)
    check_can_listen(
        host, port, f"choose another with --web.listen-address or listen_address in {config.file}"
    )
    # Open the store once here, creating or upgrading its schema, so that a bad path, an
    # unreachable database or a schema newer than this release stops start-up with its reason.
    open_store(config.store).close()
    log.info(
        "drift-bridge %s: config %s, store %s, %d route(s), %d target(s)",
        __version__,
        config.file,
        config.store.display,
        len(config.routes),
        len(config.targets),
    )
    for warning in _warnings(config):
        log.warning("%s", warning)
    BridgeServer(config, args.log_level).run()
    return 0


def _warnings(config: BridgeConfig) -> list[str]:
    """What may fail later, though the file is valid (checked on this machine)."""
    warnings = []
    for name, target in config.targets.items():
        if isinstance(target, CommandTarget):
            problem = target.program_problem()
            if problem is not None:
                warnings.append(
                    f"{config.file}: targets.{name}.command[0]: {problem}; every dispatch to it "
                    "would fail (it may exist only on the serving host)"
                )
    return warnings


def _cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    warnings = _warnings(config)
    if args.strict and warnings:
        raise ConfigError(warnings)
    dry = " (dry run)" if config.dry_run else ""
    print(
        f"{config.file}: OK{dry}: {len(config.routes)} route(s), {len(config.targets)} "
        f"target(s), store {config.store.display}"
    )
    for route in config.routes:
        matchers = ", ".join(str(m) for m in route.matchers) or "every alert"
        print(f"  route {route.name}: {matchers} -> {route.target}")
    if config.alertmanager is None:
        print(
            "  note: truncated alerts (max_alerts) will not be fetched: set alertmanager.url to "
            "fetch the alerts a notification leaves out (else they are only counted)"
        )
    else:
        print(f"  truncated alerts (max_alerts) are fetched from {config.alertmanager.url}")
    for warning in warnings:
        print(f"warning: {warning}")
    # Not errors even with --strict: the workflow file is often elsewhere.
    for warning in _run_name_warnings(config):
        print(f"warning: {warning}")
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from bridge.store.migrations import latest
    from bridge.store.opening import migrations_for

    config = _load(args)
    before = time.monotonic()
    store = open_store(config.store, migrate=False)
    try:
        applied = store.migrate()
    finally:
        store.close()
    code = latest(migrations_for(config.store))
    if applied:
        steps = ", ".join(str(version) for version in applied)
        print(
            f"store {config.store.display}: upgraded to schema version {code} (applied {steps})"
            f" in {time.monotonic() - before:.1f}s"
        )
    else:
        print(f"store {config.store.display}: schema version {code}, up to date")
    return 0


def _run_name_warnings(config: BridgeConfig) -> list[str]:
    """GitHub targets whose runs the bridge may not find again after a crash."""
    warnings = []
    lost = "a run started by an attempt whose answer was lost (a crash) cannot be found"
    for name, target in sorted(config.targets.items()):
        if not isinstance(target, GitHubTarget):
            continue
        if target.mode != "workflow_dispatch":
            warnings.append(f"target {name}: repository_dispatch runs carry no findable id: {lost}")
            continue
        places = [Path.cwd(), config.file.parent]
        found = [p / ".github" / "workflows" / target.workflow for p in places]
        workflow = next((path for path in found if path.is_file()), None)
        if workflow is None:
            warnings.append(
                f"target {name}: cannot check workflow {target.workflow} (no "
                f".github/workflows/{target.workflow} here or beside {config.file.name}); its "
                f"run-name must carry ${{{{ inputs.{target.dispatch_id_input} }}}}, else {lost}"
            )
            continue
        problem = run_name_problem(workflow.read_text(), target.dispatch_id_input)
        if problem is not None:
            warnings.append(f"target {name}: {workflow} {problem}; {lost}")
    return warnings


def _read_payload(path: Path) -> Any:
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise ValueError(f"{path}: cannot read: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON: {err}") from None
    # A captured request (path, headers, body) as in the test fixtures, or a bare body.
    if isinstance(data, dict) and "body" in data and "alerts" not in data:
        return data["body"]
    return data


def _cmd_replay(args: argparse.Namespace) -> int:
    from bridge.replay import replay

    # It sends nothing: the secret files of the serving host need not exist here.
    config = load_config(args.config_file, check_secrets=False)
    print(json.dumps(replay(config, _read_payload(args.payload)), indent=2))
    return 0


def _cmd_dispatches(args: argparse.Namespace) -> int:
    from bridge.dead_letters import RetryRefusedError, retry_dispatch
    from bridge.web.audit import summary_json, trail_json

    config = _load(args)
    store = open_store(config.store)
    if args.action == "list":
        rows = store.list_dispatches(args.state, None, args.limit, 0)
        for row in map(summary_json, rows):
            model = row["labels"].get("model", "-")
            print(
                f"{row['id']}  {row['state']:<9}  {row['created_at']}  {row['route']} -> "
                f"{row['target']}  model={model}  {row['last_error'] or ''}".rstrip()
            )
        if not rows:
            print("no dispatches")
        return 0
    if args.action == "show":
        found = store.get_dispatch(args.dispatch_id)
        if found is None:
            raise ValueError(f"no dispatch {args.dispatch_id!r}")
        print(json.dumps(trail_json(found), indent=2))
        return 0
    try:
        retry_dispatch(store, config, args.dispatch_id, time.time())
    except RetryRefusedError as err:
        raise ValueError(str(err)) from None
    print(
        f"{args.dispatch_id}: back in the outbox; a running bridge sends it within "
        f"{config.dispatch.poll_interval:g}s"
    )
    return 0


_COMMANDS = {
    "serve": _cmd_serve,
    "check-config": _cmd_check_config,
    "replay": _cmd_replay,
    "dispatches": _cmd_dispatches,
    "migrate": _cmd_migrate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``drift-bridge``; returns the exit status."""
    args = build_parser().parse_args(argv)
    # As logging.basicConfig: a process that set up logging already (a test runner) keeps it.
    if not logging.getLogger().handlers:
        logs.configure(args.log_level, args.log_format)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as err:
        print(
            f"drift-bridge: invalid configuration ({len(err.problems)} problem(s)):",
            file=sys.stderr,
        )
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except (ValueError, StoreError, OSError) as err:
        print(f"drift-bridge: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
