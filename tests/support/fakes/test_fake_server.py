"""Fault injection and request records, shared by every fake."""

import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.support.fakes.webhook import FakeWebhook


@pytest.fixture
def fake() -> Iterator[FakeWebhook]:
    """The simplest fake."""
    with FakeWebhook() as server:
        yield server


def test_received_keeps_the_raw_path_query_form_json_and_cookies(fake: FakeWebhook) -> None:
    requests.post(
        f"{fake.url}/a%2Fb%20c?x=1",
        data={"k": "v"},
        cookies={"session": "s"},
        headers={"X-Custom": "yes"},
        timeout=5,
    )
    requests.put(f"{fake.url}/json", json={"n": 1}, timeout=5)

    form, body = fake.received
    assert (form.method, form.path, form.query) == ("POST", "/a%2Fb%20c", {"x": "1"})
    assert form.form == {"k": "v"}
    assert form.cookies == {"session": "s"}
    assert form.header("x-custom") == "yes"
    assert (body.method, body.json) == ("PUT", {"n": 1})


def test_fail_next_answers_that_many_requests_then_handles_again(fake: FakeWebhook) -> None:
    fake.fail_next(2, 503, {"Retry-After": "3"})

    statuses = [requests.post(fake.url + "/x", timeout=5) for _ in range(3)]

    assert [answer.status_code for answer in statuses] == [503, 503, 200]
    assert statuses[0].headers["Retry-After"] == "3"
    assert len(fake.received) == 3


def test_delay_holds_every_response(fake: FakeWebhook) -> None:
    fake.delay = 0.3

    started = time.monotonic()
    requests.post(fake.url + "/x", timeout=5)

    assert time.monotonic() - started >= 0.3


def test_refused_connections_until_accepted_again_on_the_same_port(fake: FakeWebhook) -> None:
    url = fake.url + "/x"
    fake.refuse_connections()

    with pytest.raises(requests.ConnectionError):
        requests.post(url, timeout=5)
    fake.accept_connections()

    assert fake.url + "/x" == url
    assert requests.post(url, timeout=5).status_code == 200


def test_wait_for_returns_once_enough_requests_arrived(fake: FakeWebhook) -> None:
    sender = threading.Timer(0.1, lambda: requests.post(fake.url + "/late", timeout=5))
    sender.start()

    [late] = fake.wait_for(1, timeout=5)
    sender.join()

    assert late.path == "/late"
    assert late.at <= time.time()


def test_wait_for_says_how_many_arrived_when_it_times_out(fake: FakeWebhook) -> None:
    requests.post(fake.url + "/x", timeout=5)

    with pytest.raises(TimeoutError, match=r"1 of 2 requests arrived within 0\.1s"):
        fake.wait_for(2, timeout=0.1)


def test_a_held_answer_is_sent_only_once_released(fake: FakeWebhook) -> None:
    hold = fake.hold("POST", "/hook", stage="answer")
    answers: list[int] = []
    sender = threading.Thread(
        target=lambda: answers.append(requests.post(f"{fake.url}/hook", timeout=10).status_code)
    )
    sender.start()

    hold.wait_arrived(5)
    held = list(answers)
    hold.release()
    sender.join(10)

    assert held == []
    assert answers == [200]


def test_a_request_held_before_handling_can_be_dropped(fake: FakeWebhook) -> None:
    hold = fake.hold("POST", "/hook", stage="request")
    answers: list[int] = []
    sender = threading.Thread(
        target=lambda: answers.append(requests.post(f"{fake.url}/hook", timeout=10).status_code)
    )
    sender.start()

    hold.wait_arrived(5)
    hold.release(handle=False)
    sender.join(10)

    assert answers == [503]
