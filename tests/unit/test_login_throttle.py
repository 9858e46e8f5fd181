"""The login throttle decides before the password is checked: guesses per minute are bounded whatever the
concurrency, refused attempts are answered at once (429 + Retry-After), and a client that has not been
guessing is never held up by someone else's burst."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from isengard.web_guard import GuardMiddleware, LoginThrottle


def test_free_attempts_then_one_at_a_time_and_paced():
    throttle = LoginThrottle(free=3)
    for _ in range(3):
        assert throttle.admit("a") == 0
        throttle.failed("a")
    assert throttle.admit("a") == pytest.approx(1.0, abs=0.05)  # 1 s after the third failure
    throttle._clients["a"].last_failure -= 1.0  # a second passes
    assert throttle.admit("a") == 0
    assert throttle.admit("a") >= 1.0  # one in flight: no second attempt beside it
    throttle.failed("a")
    throttle._clients["a"].last_failure -= 1.5
    assert throttle.admit("a") == pytest.approx(0.5, abs=0.05)  # now 2 s after the failure
    throttle.succeeded("a")
    assert throttle.admit("a") == 0


@pytest.mark.parametrize("burst", [40, 400])
def test_a_concurrent_burst_gets_no_more_checks_than_the_free_attempts(burst):
    throttle = LoginThrottle(free=3)
    admitted = [throttle.admit("b") == 0 for _ in range(burst)]  # all arrive before any is checked
    assert sum(admitted) == 3
    for _ in range(3):
        throttle.failed("b")
    again = [throttle.admit("b") == 0 for _ in range(burst)]
    assert sum(again) == 0  # the next one only after its delay


def test_a_burst_from_many_guessers_does_not_hold_up_a_clean_client():
    throttle = LoginThrottle(free=3, global_failures=10)
    for client in range(10):  # ten clients, each failed once: the overall budget is spent
        throttle.admit(f"g{client}")
        throttle.failed(f"g{client}")
    assert throttle.admit("g0") > 0  # a client that has been guessing waits for the minute to pass
    assert throttle.admit("honest") == 0  # one that has not is let through at once


def test_an_abandoned_attempt_frees_its_place():
    throttle = LoginThrottle(free=1)
    assert throttle.admit("c") == 0
    assert throttle.admit("c") > 0
    throttle.abandoned("c")
    assert throttle.admit("c") == 0


def test_the_middleware_refuses_without_reading_the_body_and_says_when_to_retry():
    throttle = LoginThrottle(free=0)
    throttle.failed("10.9.9.9")
    seen = {"app": 0, "received": 0}

    async def app(scope, receive, send):
        seen["app"] += 1

    async def receive():
        seen["received"] += 1
        return {"type": "http.request", "body": b"username=a&password=b", "more_body": False}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/login", "client": ("10.9.9.9", 1234), "headers": []}
    with ThreadPoolExecutor(1) as pool:  # a loop of its own, whatever runs in this thread
        pool.submit(asyncio.run, GuardMiddleware(app, throttle)(scope, receive, send)).result()
    assert sent[0]["status"] == 429 and seen == {"app": 0, "received": 0}
    headers = dict(sent[0]["headers"])
    assert int(headers[b"retry-after"]) >= 1 and headers[b"x-content-type-options"] == b"nosniff"
