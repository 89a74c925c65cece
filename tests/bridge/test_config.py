"""bridge.yml: validated once at start-up; every problem names the file and the key."""

from pathlib import Path
from typing import Any

import pytest

from bridge.cli import main
from bridge.config_reader import ConfigError
from common.durations import parse_duration
from tests.support.bridge import ConfigWriter


def problems(write_config: ConfigWriter, data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        write_config(data)
    return caught.value.problems


def test_the_complete_example_loads(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    config = write_config(config_data)
    (route,) = config.routes
    assert route.name == "retrain"
    assert route.target == "hook"
    assert config.auth.type == "bearer"
    assert config.store_path.name == "bridge.db"
    assert config.store_path.parent == config.file.parent  # relative to the config file
    assert config.dispatch.backoff.initial_delay == pytest.approx(0.1)


def test_defaults_are_sane(write_config: ConfigWriter, config_data: dict[str, Any]) -> None:
    del config_data["dispatch"]
    config_data["routes"][0].pop("cooldown")
    config = write_config(config_data)
    assert config.routes[0].cooldown == 3600
    assert config.routes[0].cooldown_by == ("model",)
    assert config.routes[0].on_resolve == "record"
    assert config.dispatch.backoff.deadline == 12 * 3600
    assert config.server.listen_address == "127.0.0.1:9912"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(listen="x"), "bridge.yml: listen: unknown setting"),
        (
            lambda d: d["routes"][0].update(target="nope"),
            "bridge.yml: routes[0].target: unknown target 'nope' (targets: hook)",
        ),
        (
            lambda d: d["routes"][0].update(cooldown="soon"),
            "bridge.yml: routes[0].cooldown: invalid duration 'soon'",
        ),
        (
            lambda d: d["routes"][0].update(matchers=["model=~(bad"]),
            "bridge.yml: routes[0].matchers[0]: invalid matcher",
        ),
        (
            lambda d: d["routes"][0]["parameters"].update(X="{{ labels.model"),
            "bridge.yml: routes[0].parameters.X: template syntax error",
        ),
        (
            lambda d: d["routes"][0]["parameters"].update(X=3),
            "bridge.yml: routes[0].parameters.X: expected a string, got a number (3)",
        ),
        (
            lambda d: d["routes"][0].update(on_resolve="cancel"),
            "bridge.yml: routes[0].on_resolve: must be one of record, dispatch; got 'cancel'",
        ),
        (lambda d: d["routes"][0].pop("name"), "bridge.yml: routes[0].name: is required"),
        (
            lambda d: d["routes"].append(dict(d["routes"][0])),
            "bridge.yml: routes: route name 'retrain' is used more than once",
        ),
        (
            lambda d: d["auth"].update(token_file="/nonexistent/token"),
            "bridge.yml: auth.token_file: cannot read secret file /nonexistent/token",
        ),
        (
            lambda d: d["auth"].update(token_env="X"),
            "bridge.yml: auth.token_file: set only one of token_file and token_env",
        ),
        (
            lambda d: d["auth"].update(type="digest"),
            "bridge.yml: auth.type: must be one of none, bearer, basic; got 'digest'",
        ),
        (
            lambda d: d["dispatch"].update(concurrency=0),
            "bridge.yml: dispatch.concurrency: must be at least 1, got 0",
        ),
        (lambda d: d.pop("targets"), "bridge.yml: targets: is required"),
        (
            lambda d: d["dispatch"].update(poll_interval="3s", lease="2s"),
            "bridge.yml: dispatch.lease: must be at least 3 x poll_interval (9s), got 2s",
        ),
        (
            lambda d: d.update(listen_address="nowhere"),
            "bridge.yml: listen_address: expected HOST:PORT",
        ),
    ],
)
def test_bad_settings_are_named(
    write_config: ConfigWriter, config_data: dict[str, Any], change: Any, expected: str
) -> None:
    change(config_data)
    found = problems(write_config, config_data)
    assert any(p.endswith(expected) or expected in p for p in found), found
    assert all(Path(p.split(":")[0]).name == "bridge.yml" for p in found)


def test_every_problem_is_reported_at_once(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    config_data["routes"][0]["target"] = "nope"
    config_data["routes"][0]["cooldown"] = "soon"
    config_data["typo"] = 1
    assert len(problems(write_config, config_data)) == 3


def test_no_auth_on_a_public_address_refuses_to_start(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    del config_data["auth"]
    config_data["listen_address"] = "0.0.0.0:9912"
    (problem,) = problems(write_config, config_data)
    assert "auth: is required when listening on 0.0.0.0:9912" in problem
    config_data["allow_unauthenticated"] = True
    assert write_config(config_data).auth.type == "none"
    config_data["listen_address"] = "127.0.0.1:9912"
    del config_data["allow_unauthenticated"]
    assert write_config(config_data).auth.type == "none"


@pytest.mark.parametrize("host", ["127.evil.example", "127.0.0.1.nip.io"])
def test_a_name_that_only_looks_like_loopback_needs_auth(
    write_config: ConfigWriter, config_data: dict[str, Any], host: str
) -> None:
    # The host is parsed (common.addresses), not matched by its "127." prefix.
    del config_data["auth"]
    config_data["listen_address"] = f"{host}:9912"
    (problem,) = problems(write_config, config_data)
    assert f"auth: is required when listening on {host}:9912" in problem


def test_secrets_never_appear_in_the_config_repr(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    config = write_config(config_data)
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("1d", 86400), ("1.5h", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_check_config_lists_every_problem_and_exits_1(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(config_data)
    path = tmp_path / "bridge.yml"
    assert main(["check-config", f"--config.file={path}"]) == 0
    assert "OK: 1 route(s), 1 target(s)" in capsys.readouterr().out
    path.write_text(path.read_text().replace("target: hook", "target: nope") + "typo: 1\n")
    assert main(["check-config", f"--config.file={path}"]) == 1
    err = capsys.readouterr().err
    assert "invalid configuration (2 problem(s))" in err
    assert "routes[0].target: unknown target 'nope'" in err
    assert "typo: unknown setting" in err


def test_check_config_explains_an_unreadable_or_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", f"--config.file={tmp_path / 'none.yml'}"]) == 1
    assert "none.yml: cannot read: No such file or directory" in capsys.readouterr().err
    (tmp_path / "broken.yml").write_text("routes: [\n")
    assert main(["check-config", f"--config.file={tmp_path / 'broken.yml'}"]) == 1
    assert "broken.yml: not valid YAML" in capsys.readouterr().err


def test_relative_paths_are_taken_from_the_config_files_directory(
    write_config: ConfigWriter, config_data: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "am.token").write_text("t0ken\n")
    config_data["auth"]["token_file"] = "secrets/am.token"
    config_data["store"]["path"] = "state/bridge.db"
    monkeypatch.chdir("/")
    config = write_config(config_data)
    assert config.auth.token is not None
    assert config.auth.token.get() == "t0ken"
    assert config.store_path == tmp_path / "state" / "bridge.db"


def test_a_route_to_a_target_with_problems_is_not_also_called_unknown(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    config_data["targets"]["hook"]["bearer_token_file"] = "/nonexistent/token"
    (problem,) = problems(write_config, config_data)
    assert "targets.hook.bearer_token_file: cannot read secret file /nonexistent/token" in problem
