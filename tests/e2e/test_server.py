"""The studio process: start-up, health, security, port errors, browser error reports, API correlation."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

from isengard.settings import PROJECT_ROOT
from tests.helpers import child_env, free_port, read_log_lines, wait_for
from tests.server_fixtures import start_studio, stop_studio


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _post(url: str, body: bytes, headers: dict | None = None, *, same_origin: bool = True) -> int:
    """POST as the studio's own page does: with the Origin of the host it talks to."""
    origin = {"Origin": "http://" + urllib.parse.urlsplit(url).netloc} if same_origin else {}
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **origin, **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_serves_on_loopback_without_login_and_reports_health(studio):
    status, body = _get(studio.url + "healthz")
    assert status == 200 and json.loads(body) == {"status": "ok", "mode": "fast-test"}
    status, _ = _get(studio.url + "config")
    assert status == 200  # no login on loopback
    wait_for(lambda: "Isengard is running" in studio.output())


def test_api_call_carries_the_incoming_correlation_id_into_the_job(studio):
    from gradio_client import Client

    client = Client(studio.url, verbose=False, headers={"X-Correlation-ID": "test-cid-4242"})
    job_id = client.predict(prompt="correlated", api_name="/generate")["job_id"]
    wait_for(lambda: client.predict(job_id=job_id, api_name="/job")["status"] == "succeeded", timeout=30)
    api = [
        line for line in read_log_lines(studio.log_dir, "api") if line["correlation_id"] == "test-cid-4242"
    ]
    worker = [
        line for line in read_log_lines(studio.log_dir, "worker") if line["correlation_id"] == "test-cid-4242"
    ]
    assert {"ui.action", "generation.submitted"} <= {line["event"] for line in api}
    assert {"job.started", "job.succeeded"} <= {line["event"] for line in worker}


def test_browser_errors_are_written_to_the_web_log(studio):
    body = json.dumps({"kind": "error", "message": "TypeError: boom token=abc123456", "line": 3}).encode()
    assert _post(studio.url + "isengard/client-log", body, {"X-Correlation-ID": "web-cid-1"}) == 204
    assert _post(studio.url + "isengard/client-log", b"not json") == 400
    assert _post(studio.url + "isengard/client-log", b"x" * 20000) == 413
    lines = wait_for(
        lambda: [x for x in read_log_lines(studio.log_dir, "web") if x["correlation_id"] == "web-cid-1"]
    )
    assert lines[0]["service"] == "web" and lines[0]["event"] == "browser.error"
    assert "abc123456" not in lines[0]["message"]


def test_files_outside_the_data_outputs_are_not_served(studio):
    status, _ = _get(studio.url + "gradio_api/file=/etc/passwd")
    assert status in (403, 404)
    status, _ = _get(studio.url + f"gradio_api/file={studio.data_dir / 'isengard.db'}")
    assert status in (403, 404)


def test_public_host_without_auth_demands_a_login_with_a_generated_password(tmp_path):
    studio = start_studio(tmp_path / "public", HOST="0.0.0.0")
    try:
        status, _ = _get(studio.url + "config")
        assert status == 401
        out = studio.output()
        assert "Login required" in out and "Password: " in out
        password = out.split("Password: ", 1)[1].split()[0]
        logs = "".join(p.read_text() for p in (tmp_path / "public" / "logs").rglob("*.log"))
        assert password not in logs  # printed once on the console, never logged
        assert (
            _post(studio.url + "isengard/client-log", b"{}") == 401
        )  # logged-out browsers cannot write logs
        from gradio_client import Client

        client = Client(studio.url, auth=("isengard", password), verbose=False)
        assert client.predict(limit=1, api_name="/jobs") == []
    finally:
        stop_studio(studio)


def test_isengard_auth_is_used_when_set(tmp_path):
    studio = start_studio(tmp_path / "auth", HOST="0.0.0.0", ISENGARD_AUTH="alice:correct-horse-battery")
    try:
        assert _get(studio.url + "config")[0] == 401
        assert "Password:" not in studio.output()
        from gradio_client import Client

        Client(studio.url, auth=("alice", "correct-horse-battery"), verbose=False).predict(
            limit=1, api_name="/jobs"
        )
    finally:
        stop_studio(studio)


def test_port_in_use_exits_4_with_one_sentence(tmp_path):
    port = free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        result = subprocess.run(
            [sys.executable, "app.py"],
            cwd=PROJECT_ROOT,
            env=child_env(tmp_path, PORT=str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 4
    assert f"Port {port}" in result.stderr and "Traceback" not in result.stderr
