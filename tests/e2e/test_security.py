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
        with urllib.request.urlopen(req, timeout=180) as resp:  # throttled logins wait on purpose
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


def test_failed_logins_are_logged_without_the_password_and_slow_down(guarded):
    for attempt in range(5):
        _login(guarded.url, "mallory", f"guess-{attempt}-secret")

    def failures():
        found = [
            x
            for x in read_log_lines(guarded.log_dir, "api")
            if x["event"] == "login.failed" and x["context"].get("user") == "mallory"
        ]
        return found if len(found) >= 5 else None  # each is logged just after its response is sent

    lines = wait_for(failures, timeout=90)
    assert len(lines) >= 5
    assert _login(guarded.url, USER, PASSWORD)[0] == 200  # a success clears the client's slow-down
    assert lines[-1]["context"]["next_delay_s"] >= 2  # 3 free attempts, then 1 s, 2 s, 4 s …
    text = "".join(p.read_text() for p in guarded.log_dir.rglob("*.log"))
    assert "guess-4-secret" not in text and PASSWORD not in text


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
