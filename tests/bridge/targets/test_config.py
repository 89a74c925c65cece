"""Target settings are checked when the config loads; every problem names its key."""

from pathlib import Path
from typing import Any

import pytest

from bridge.targets import TARGET_TYPES
from tests.support.targets import problems_of, target_from


@pytest.fixture
def secret_file(tmp_path: Path) -> str:
    """A readable secret file."""
    path = tmp_path / "secret"
    path.write_text("s3cret\n")
    return str(path)


def valid(kind: str, secret: str) -> dict[str, Any]:
    """A minimal valid configuration of each type."""
    settings: dict[str, dict[str, Any]] = {
        "jenkins": {
            "type": "jenkins",
            "url": "https://ci.example.com/jenkins",
            "job": "ml/retrain",
            "user": "bot",
            "api_token_file": secret,
        },
        "github": {
            "type": "github",
            "owner": "acme",
            "repo": "models",
            "workflow": "retrain.yml",
            "ref": "main",
            "token_file": secret,
        },
        "command": {"type": "command", "command": ["retrain", "{{ labels.model }}"]},
        "webhook": {"type": "webhook", "url": "https://airflow.example.com/api/v1/dags/x/dagRuns"},
    }
    return settings[kind]


@pytest.mark.parametrize("kind", sorted(TARGET_TYPES))
def test_minimal_settings_are_valid(kind: str, secret_file: str) -> None:
    target = target_from(valid(kind, secret_file), name="ci")

    assert (target.name, target.type) == ("ci", kind)


@pytest.mark.parametrize(
    ("kind", "missing", "problem"),
    [
        ("jenkins", "url", "targets.t.url: is required"),
        ("jenkins", "job", "targets.t.job: is required"),
        ("github", "owner", "targets.t.owner: is required"),
        ("github", "repo", "targets.t.repo: is required"),
        ("github", "workflow", "targets.t.workflow: is required"),
        ("github", "ref", "targets.t.ref: is required"),
        ("github", "token_file", "targets.t.token_file: is required (or token_env)"),
        ("command", "command", "targets.t.command: is required"),
        ("webhook", "url", "targets.t.url: is required"),
    ],
)
def test_missing_required_setting_is_named(
    kind: str, missing: str, problem: str, secret_file: str
) -> None:
    settings = valid(kind, secret_file)
    del settings[missing]

    assert any(p.startswith(f"bridge.yml: {problem}") for p in problems_of(settings))


@pytest.mark.parametrize("kind", sorted(TARGET_TYPES))
def test_unknown_setting_is_named(kind: str, secret_file: str) -> None:
    settings = {**valid(kind, secret_file), "timout": "5s"}

    assert problems_of(settings) == ["bridge.yml: targets.t.timout: unknown setting"]


@pytest.mark.parametrize(
    ("kind", "prefix", "where"),
    [
        ("jenkins", "api_token", ""),
        ("jenkins", "password", ""),
        ("jenkins", "build_token", ""),
        ("github", "token", ""),
        ("webhook", "bearer_token", ""),
        ("webhook", "password", "basic_auth"),
    ],
)
def test_secret_from_both_a_file_and_an_environment_variable_is_refused(
    kind: str, prefix: str, where: str, secret_file: str
) -> None:
    settings = valid(kind, secret_file)
    both = {f"{prefix}_file": secret_file, f"{prefix}_env": "SOME_VAR"}
    if where:
        settings[where] = {"username": "u", **both}
    else:
        settings.pop("api_token_file", None)
        settings.pop("token_file", None)
        settings.update(both)
        if prefix == "password":
            settings["user"] = "alice"
    key = f"targets.t.{where + '.' if where else ''}{prefix}_file"

    problems = problems_of(settings)

    assert f"bridge.yml: {key}: set only one of {prefix}_file and {prefix}_env" in problems


def test_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    settings = valid("github", str(tmp_path / "absent"))

    [problem] = problems_of(settings)

    assert problem.startswith("bridge.yml: targets.t.token_file: cannot read secret file")


def test_type_is_required_and_must_be_known() -> None:
    assert problems_of({"url": "https://x"}) == ["bridge.yml: targets.t.type: is required"]
    [problem] = problems_of({"type": "gitlab"})
    assert problem == (
        "bridge.yml: targets.t.type: must be one of command, github, jenkins, webhook; got 'gitlab'"
    )


def test_jenkins_user_needs_a_token_or_a_password(secret_file: str) -> None:
    settings = valid("jenkins", secret_file)
    del settings["api_token_file"]

    assert problems_of(settings) == [
        "bridge.yml: targets.t.user: needs api_token_file/api_token_env "
        "(or password_file/password_env)"
    ]


def test_jenkins_token_needs_a_user(secret_file: str) -> None:
    settings = valid("jenkins", secret_file)
    del settings["user"]

    assert problems_of(settings) == [
        "bridge.yml: targets.t.user: is required with an API token or a password"
    ]


def test_jenkins_token_and_password_together_are_refused(secret_file: str) -> None:
    settings = {**valid("jenkins", secret_file), "password_file": secret_file}

    assert problems_of(settings) == [
        "bridge.yml: targets.t.password_file: set either an API token or a password, not both"
    ]


def test_jenkins_build_token_alone_is_valid(secret_file: str) -> None:
    settings = valid("jenkins", secret_file)
    del settings["user"], settings["api_token_file"]

    target_from({**settings, "build_token_file": secret_file})


@pytest.mark.parametrize(
    ("job", "problem"),
    [
        ("ml//retrain", "empty folder or job name"),
        ("/ml/retrain", "empty folder or job name"),
        ("ml/{{ labels.model", "template syntax error"),
    ],
)
def test_bad_jenkins_job_path_is_named(job: str, problem: str, secret_file: str) -> None:
    [found] = problems_of({**valid("jenkins", secret_file), "job": job})

    assert found.startswith("bridge.yml: targets.t.job: ")
    assert problem in found


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("url", "ftp://ci.example.com", "expected an http:// or https:// URL"),
        ("url", "https://bot:token@ci.example.com", "must not contain credentials"),
        ("timeout", "soon", "invalid duration"),
        ("delay", 10, "expected a duration"),
        ("tls_verify", "no", "expected true or false"),
        ("ca_file", 42, "expected a string"),
    ],
)
def test_bad_jenkins_values_are_named(key: str, value: Any, problem: str, secret_file: str) -> None:
    [found] = problems_of({**valid("jenkins", secret_file), key: value})

    assert found.startswith(f"bridge.yml: targets.t.{key}: ")
    assert problem in found


def test_github_keys_of_the_other_mode_are_refused(secret_file: str) -> None:
    settings = {**valid("github", secret_file), "event_type": "retrain"}

    assert problems_of(settings) == [
        "bridge.yml: targets.t.event_type: only applies to mode repository_dispatch"
    ]


def test_github_repository_dispatch_needs_an_event_type(secret_file: str) -> None:
    settings = valid("github", secret_file)
    del settings["workflow"], settings["ref"]

    assert problems_of({**settings, "mode": "repository_dispatch"}) == [
        "bridge.yml: targets.t.event_type: is required"
    ]


def test_github_static_event_type_over_100_characters_is_refused(secret_file: str) -> None:
    settings = valid("github", secret_file)
    del settings["workflow"], settings["ref"]

    problems = problems_of({**settings, "mode": "repository_dispatch", "event_type": "e" * 101})

    assert problems == ["bridge.yml: targets.t.event_type: must be at most 100 characters"]


def test_github_mode_must_be_known(secret_file: str) -> None:
    [problem] = problems_of({**valid("github", secret_file), "mode": "push"})

    assert problem.startswith("bridge.yml: targets.t.mode: must be one of workflow_dispatch")


def test_command_must_name_a_program() -> None:
    assert problems_of({"type": "command", "command": []}) == [
        "bridge.yml: targets.t.command: must name a program: [program, arg, ...]"
    ]


def test_command_is_a_list_not_a_shell_line() -> None:
    [problem] = problems_of({"type": "command", "command": "retrain --model churn"})

    assert problem.startswith("bridge.yml: targets.t.command: expected a list of strings")


def test_command_bad_settings_are_named(tmp_path: Path) -> None:
    problems = problems_of(
        {
            "type": "command",
            "command": ["retrain", "{{ labels.model"],
            "working_dir": str(tmp_path / "absent"),
            "env": {"RUN": "{% if %}"},
            "inherit_env": "yes",
        }
    )

    keys = [problem.split(": ")[1] for problem in problems]
    assert keys == [
        "targets.t.command",
        "targets.t.working_dir",
        "targets.t.env.RUN",
        "targets.t.inherit_env",
    ]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://{{ labels.host }}/run", "templates are only allowed in the path"),
        ("https://h/run?model={{ labels.model }}", "templates are only allowed in the path"),
        ("https://user:pw@h/run", "must not contain credentials"),
        ("h/run", "expected an http:// or https:// URL"),
    ],
)
def test_bad_webhook_url_is_named(url: str, problem: str) -> None:
    [found] = problems_of({"type": "webhook", "url": url})

    assert found.startswith("bridge.yml: targets.t.url: ")
    assert problem in found


def test_webhook_authorization_header_is_refused() -> None:
    settings = {"type": "webhook", "url": "https://h/run", "headers": {"Authorization": "x"}}

    [problem] = problems_of(settings)

    assert problem.startswith("bridge.yml: targets.t.headers.Authorization: secrets never")


def test_webhook_bearer_and_basic_auth_together_are_refused(secret_file: str) -> None:
    settings = {
        "type": "webhook",
        "url": "https://h/run",
        "bearer_token_file": secret_file,
        "basic_auth": {"username": "u", "password_file": secret_file},
    }

    assert problems_of(settings) == [
        "bridge.yml: targets.t.basic_auth: set either bearer_token_file/_env or basic_auth"
    ]


def test_webhook_basic_auth_unknown_key_is_named(secret_file: str) -> None:
    settings = {
        "type": "webhook",
        "url": "https://h/run",
        "basic_auth": {"username": "u", "password": "inline", "password_file": secret_file},
    }

    assert problems_of(settings) == ["bridge.yml: targets.t.basic_auth.password: unknown setting"]


def test_webhook_method_must_be_known() -> None:
    [problem] = problems_of({"type": "webhook", "url": "https://h/run", "method": "GET"})

    assert problem.startswith("bridge.yml: targets.t.method: must be one of POST, PUT, PATCH")


def test_ca_file_with_tls_verification_off_is_refused(secret_file: str) -> None:
    settings = {**valid("webhook", secret_file), "tls_verify": False, "ca_file": "/etc/ca.pem"}

    assert problems_of(settings) == [
        "bridge.yml: targets.t.ca_file: has no effect with tls_verify: false"
    ]
