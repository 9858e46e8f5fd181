"""The two observability scripts the spec names, run as CI runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from isengard.settings import PROJECT_ROOT


def _script(name: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, f"scripts/{name}", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_obs_smoke_test_follows_one_correlation_id(tmp_path):
    result = _script("obs_smoke_test.py", "--workdir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke test passed" in result.stdout
    assert "0 problem(s)" in result.stdout


def test_validate_logs_accepts_good_and_rejects_bad_lines(tmp_path):
    good = {
        "timestamp": "2026-11-25T10:00:00+00:00",
        "level": "INFO",
        "service": "api",
        "correlation_id": "c",
        "message": "m",
        "event": "e",
        "context": {},
    }
    folder = tmp_path / "logs" / "api" / "latest"
    folder.mkdir(parents=True)
    (folder / "api.log").write_text(json.dumps(good) + "\n")
    ok = _script("validate_logs.py", str(tmp_path / "logs"))
    assert ok.returncode == 0 and "1 line(s)" in ok.stdout
    bad_lines = [
        "not json",
        json.dumps({k: v for k, v in good.items() if k != "correlation_id"}),
        json.dumps(good | {"service": "worker"}),
        json.dumps(good | {"message": "leak hf_abcdefghijklmnop"}),
        json.dumps(good | {"level": "LOUD"}),
    ]
    (folder / "api.log").write_text("\n".join([json.dumps(good), *bad_lines]) + "\n")
    sub = tmp_path / "logs" / "worker" / "latest" / "subprocess"
    sub.mkdir(parents=True)
    (sub / "train-x.stdout.log").write_text("plain program output\nstep 3 loss 0.2\n")
    bad = _script("validate_logs.py", str(tmp_path / "logs"))
    assert bad.returncode == 1
    for expected in (
        "not JSON",
        "missing correlation_id",
        "service 'worker' in the api log",
        "unredacted secret",
        "unknown level",
    ):
        assert expected in bad.stdout
    assert "train-x.stdout.log" not in bad.stdout  # raw output is only checked for secrets
    missing = _script("validate_logs.py", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
