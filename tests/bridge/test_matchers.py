"""Label matchers with Alertmanager's semantics."""

import pytest

from bridge.matchers import Matcher, matches_all

LABELS = {"alertname": "ModelDriftHigh", "model": "churn-classifier", "severity": "warning"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('alertname="ModelDriftHigh"', True),
        ("alertname=ModelDriftHigh", True),
        ('alertname = "ModelDriftHigh"', True),
        ('alertname="Other"', False),
        ('severity!="critical"', True),
        ('severity!="warning"', False),
        ('model=~"churn-.*"', True),
        ('model=~"churn"', False),  # anchored: a partial match is no match
        ('model=~"classifier"', False),
        ('model!~"fraud-.*"', True),
        ('model=~"churn-classifier|fraud-detector"', True),
        ('team=""', True),  # a missing label matches as empty
        ('team!=""', False),
        ('team=~".*"', True),
        ('model="churn-\\"classifier"', False),
    ],
)
def test_matchers_follow_alertmanager(text: str, expected: bool) -> None:
    assert Matcher.parse(text).matches(LABELS) is expected


def test_every_matcher_must_match() -> None:
    matchers = [Matcher.parse('alertname="ModelDriftHigh"'), Matcher.parse('model=~"fraud.*"')]
    assert not matches_all(matchers, LABELS)
    assert matches_all([], LABELS)


def test_quoted_values_unescape() -> None:
    matcher = Matcher.parse('summary="a \\"quoted\\" word"')
    assert matcher.value == 'a "quoted" word'
    assert str(matcher) == 'summary="a \\"quoted\\" word"'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alertname", "expected a name, one operator"),
        ('1name="x"', "expected a name, one operator"),
        ('model=~"(unclosed"', "bad regular expression"),
        ('model="unterminated', "unterminated quoted value"),
    ],
)
def test_bad_matchers_are_explained(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Matcher.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "alertname==ModelDriftHigh",
        "alertname=~~Model.*",
        "alertname=Model Drift",
        'alertname=Model"Drift',
        "model=churn,severity=warning",
    ],
)
def test_matchers_alertmanager_refuses_are_refused_naming_the_matcher_and_the_syntax(
    text: str,
) -> None:
    with pytest.raises(ValueError, match="quote the value") as raised:
        Matcher.parse(text)
    message = str(raised.value)
    assert repr(text) in message
    assert 'e.g. alertname="ModelDriftHigh"' in message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{alertname="ModelDriftHigh"}', "ModelDriftHigh"),
        ('alertname="ModelDriftHigh",', "ModelDriftHigh"),
        ('"alertname"="ModelDriftHigh"', "ModelDriftHigh"),
        ("alertname=🙂drift", "🙂drift"),
        ('alertname="a=b c"', "a=b c"),
    ],
)
def test_matchers_alertmanager_accepts_are_accepted(text: str, value: str) -> None:
    matcher = Matcher.parse(text)
    assert (matcher.name, matcher.value) == ("alertname", value)
