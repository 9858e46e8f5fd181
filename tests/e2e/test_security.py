"""The studio's HTTP side under a hostile or clumsy client: logins, the browser-error sink, headers, secrets."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.helpers import wait_for
from tests.server_fixtures import start_studio, stop_studio

USER, PASSWORD = "zoë", "pässwörd-🔑-long"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    studio = start_studio(
        tmp_path_factory.mktemp("guarded"), HOST="0.0.0.0", ISENGARD_AUTH=f"{USER}:{PASSWORD}"
    )
    yield studio
    stop_studio(studio)


def _request(url, *, data=None, headers=None, method=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def read_log_lines(log_dir, service):
    """Complete JSON lines only: the studio may be half-way through writing the last one."""
    name = "client.log" if service == "web" else f"{service}.log"
    path = log_dir / service / "latest" / name
    lines = []
    for line in path.read_text(encoding="utf-8").split("\n")[:-1] if path.exists() else []:
        if line.strip():
            lines.append(json.loads(line))
    return lines


def _login(url, user, password):
    body = urllib.parse.urlencode({"username": user, "password": password}).encode()
    return _request(url + "login", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})


def _cookie(headers) -> str:
    return "; ".join(v.split(";")[0] for k, v in headers.items() if k.lower() == "set-cookie")


def test_a_non_ascii_login_works_and_a_wrong_one_is_refused_not_crashed(guarded):
    status, headers, _ = _login(guarded.url, USER, PASSWORD)
    assert status == 200 and "access-token" in _cookie(headers)
    status, _, _ = _login(guarded.url, USER, "wrong-ñ-password")
    assert status in (400, 401)  # Gradio's "incorrect credentials", never a 500
    status, _, _ = _login(guarded.url, "ünknown", "x")
    assert status in (400, 401)


def _login_from(url, address, user, password):
    """A login sent from another loopback address: another client, as the studio sees it."""
    import http.client

    parsed = urllib.parse.urlsplit(url)
    body = urllib.parse.urlencode({"username": user, "password": password})
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60, source_address=(address, 0))
    try:
        conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _checked(guarded, client: str) -> list[dict]:
    """The login attempts from `client` whose password was checked (each failure is logged)."""
    return [
        x
        for x in read_log_lines(guarded.log_dir, "api")
        if x["event"] == "login.failed" and x["context"].get("client") == client
    ]


def test_failed_logins_are_logged_without_the_password_and_refused_past_the_limit(guarded):
    address = "127.0.0.2"
    answers = [_login_from(guarded.url, address, "mallory", f"guess-{i}-secret") for i in range(4)]
    assert [status for status, _, _ in answers[:3]] in ([400] * 3, [401] * 3)  # three free tries
    status, headers, _ = answers[3]
    assert status == 429 and int(headers["retry-after"]) >= 1  # refused at once, told when to retry
    lines = wait_for(lambda: len(_checked(guarded, address)) >= 3 and _checked(guarded, address), timeout=30)
    assert len(lines) == 3 and all(x["context"]["user"] == "mallory" for x in lines)
    assert lines[-1]["context"]["next_delay_s"] >= 1
    logged = (guarded.log_dir / "api" / "latest" / "api.log").read_text(encoding="utf-8")
    assert "secret" not in logged and "guess-" not in logged


@pytest.mark.parametrize(("address", "burst"), [("127.0.0.3", 40), ("127.0.0.4", 400)])
def test_a_concurrent_burst_of_wrong_logins_is_bounded_and_a_clean_client_gets_in(guarded, address, burst):
    """The guesses per client are bounded whatever the concurrency (refused, not slept on), and the right
    password from another client is answered at once during the burst."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    for i in range(3):  # the burst starts after the free tries are spent
        _login_from(guarded.url, address, "mallory", f"first-{i}")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=min(burst, 100)) as pool:
        wrong = [
            pool.submit(_login_from, guarded.url, address, "mallory", f"burst-{i}") for i in range(burst)
        ]
        time.sleep(0.2)
        honest = pool.submit(_login_from, guarded.url, "127.0.0.9", USER, PASSWORD)
        statuses = [f.result()[0] for f in wrong]
        assert honest.result()[0] == 200
    took = time.monotonic() - started
    assert statuses.count(429) >= burst - 1  # at most one checked (its delay had passed)
    assert took < 60  # refused at once: nothing waits out a delay
    assert wait_for(lambda: len(_checked(guarded, address)) >= 3, timeout=30)
    assert len(_checked(guarded, address)) <= 4


def test_every_response_says_nosniff(guarded):
    status, headers, _ = _request(guarded.url + "healthz")
    assert status == 200
    assert {k.lower(): v for k, v in headers.items()}["x-content-type-options"] == "nosniff"
    status, headers, _ = _request(guarded.url + "config")
    assert status == 401 and {k.lower(): v for k, v in headers.items()}["x-content-type-options"] == "nosniff"


def test_the_browser_error_sink_takes_same_origin_posts_only_and_limits_them(guarded):
    _, headers, _ = _login(guarded.url, USER, PASSWORD)
    cookie = _cookie(headers)
    origin = "http://" + urllib.parse.urlsplit(guarded.url).netloc
    sink = guarded.url + "isengard/client-log"

    def post(body: bytes, **extra):
        base = {"Content-Type": "application/json", "Cookie": cookie, "Origin": origin}
        return _request(sink, data=body, headers=base | extra)[0]

    assert post(b"{}", Origin="http://evil.example") == 403
    import http.client

    parsed = urllib.parse.urlsplit(guarded.url)
    forged = http.client.HTTPConnection(
        parsed.hostname, parsed.port, timeout=30, source_address=("127.0.0.2", 0)
    )
    try:  # a forged forwarded host with a matching forged origin, from a client that is no proxy
        forged.request(
            "POST",
            "/isengard/client-log",
            body=b'{"message": "forged"}',
            headers={
                "Content-Type": "application/json",
                "Cookie": cookie,
                "Origin": "http://evil.example",
                "X-Forwarded-Host": "evil.example",
            },
        )
        assert forged.getresponse().status == 403
    finally:
        forged.close()
    message = f"line one\u2028line two\x85three\u2029 {PASSWORD} end"
    assert post(json.dumps({"message": message}).encode(), **{"X-Correlation-ID": "sep-cid"}) == 204
    raw = (guarded.log_dir / "web" / "latest" / "client.log").read_text(encoding="utf-8")
    for line in raw.split("\n"):
        if line:
            assert len(line.splitlines()) == 1  # U+2028, U+0085 … are escaped: one record, one line
            json.loads(line)
    mine = [x for x in read_log_lines(guarded.log_dir, "web") if x["correlation_id"] == "sep-cid"]
    assert mine and PASSWORD not in mine[0]["message"] and "line two" in mine[0]["message"]
    codes = [post(b'{"message": "flood"}') for _ in range(40)]
    assert 429 in codes and codes.count(204) <= 30


def test_gradio_routes_that_had_no_login_of_their_own_are_gated(guarded):
    """Without a sign-in: the heartbeat stream, cancel, reset and the API schema answer 401 at once."""
    for method, path in (
        ("GET", "gradio_api/heartbeat/anyone"),
        ("POST", "gradio_api/cancel"),
        ("POST", "gradio_api/reset"),
        ("GET", "gradio_api/openapi.json"),
        ("GET", "openapi.json"),
    ):
        data = b"{}" if method == "POST" else None
        status, _, _ = _request(guarded.url + path, data=data, method=method)
        assert status == 401, (method, path, status)
    _, headers, _ = _login(guarded.url, USER, PASSWORD)
    import http.client

    parsed = urllib.parse.urlsplit(guarded.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:  # signed in, the heartbeat opens (its stream is closed right away here)
        conn.request("GET", "/gradio_api/heartbeat/a-session", headers={"Cookie": _cookie(headers)})
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_an_oversize_api_body_is_refused_before_it_is_read(guarded):
    import http.client
    import time

    parsed = urllib.parse.urlsplit(guarded.url)
    declared = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:  # a 30 MB body announced: 413 before a byte of it is sent
        declared.putrequest("POST", "/gradio_api/call/generate")
        declared.putheader("Content-Type", "application/json")
        declared.putheader("Content-Length", str(30 * 1024 * 1024))
        declared.endheaders()
        started = time.monotonic()
        assert declared.getresponse().status == 413
        assert time.monotonic() - started < 10
    finally:
        declared.close()
    streamed = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:  # no length given: refused as soon as the stream passes the limit
        chunks = (b'{"data": "' + b"x" * 65536 for _ in range(100))
        streamed.request(
            "POST", "/gradio_api/call/generate", body=chunks, headers={"Content-Type": "application/json"}
        )
        assert streamed.getresponse().status == 413
    finally:
        streamed.close()
    status, _, _ = _request(  # an ordinary request still goes through to Gradio
        guarded.url + "gradio_api/call/nothing",
        data=b'{"data": []}',
        headers={"Content-Type": "application/json"},
    )
    assert status != 413
