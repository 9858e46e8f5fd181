"""Observability smoke test: start the studio, drive one action end to end, follow its correlation id.

It starts `python app.py` in fast-test mode on a free port with fresh folders, calls the `generate` API
with an `X-Correlation-ID` header, waits for the job, then checks that the id appears in the api and the
worker logs, and that every log line validates. Exit status 0 on success, 1 on failure.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import _bootstrap

ROOT = _bootstrap.ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the studio exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the studio did not answer within {timeout:.0f}s")


def lines_with(log_file: Path, cid: str) -> list[str]:
    if not log_file.exists():
        return []
    return [line for line in log_file.read_text(encoding="utf-8").splitlines() if cid in line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="folder for data and logs (default: a new temporary folder)")
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="isengard-smoke-"))
    port = free_port()
    env = dict(os.environ)
    env.update(
        ISENGARD_MODE="fast-test",
        DATA_DIR=str(work / "data"),
        LOG_DIR=str(work / "logs"),
        TMP_DIR=str(work / "tmp"),
        PORT=str(port),
        HF_HUB_OFFLINE="1",
    )
    env.pop("HOST", None)
    env.pop("ISENGARD_AUTH", None)
    url = f"http://127.0.0.1:{port}/"
    cid = f"smoke-{uuid.uuid4().hex[:12]}"
    with open(work / "studio.out", "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_healthy(url, proc, args.timeout)
            from gradio_client import Client

            client = Client(url, verbose=False, headers={"X-Correlation-ID": cid})
            queued = client.predict(prompt="smoke test: a lighthouse", count=1, api_name="/generate")
            job_id = queued["job_id"]
            deadline = time.monotonic() + args.timeout
            status = None
            while time.monotonic() < deadline:
                status = client.predict(job_id=job_id, api_name="/job")["status"]
                if status in ("succeeded", "failed", "cancelled", "interrupted"):
                    break
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    failures = []
    if status != "succeeded":
        failures.append(f"job {job_id} ended as {status}")
    api_lines = lines_with(work / "logs" / "api" / "latest" / "api.log", cid)
    worker_lines = lines_with(work / "logs" / "worker" / "latest" / "worker.log", cid)
    if not api_lines:
        failures.append("the correlation id is missing from the api log")
    if not any('"job.succeeded"' in line for line in worker_lines):
        failures.append("the correlation id is missing from the worker log (no job.succeeded line)")
    from isengard.obs.validate import validate_dir

    report = validate_dir(work / "logs")
    failures += report.problems
    print(
        f"correlation id {cid}: {len(api_lines)} api line(s), {len(worker_lines)} worker line(s); job {job_id}"
    )
    print(
        f"log validation: {report.files} file(s), {report.lines} line(s), {len(report.problems)} problem(s)"
    )
    for failure in failures:
        print(f"FAIL: {failure}")
    print("smoke test passed" if not failures else "smoke test FAILED")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
