"""One table of exit codes (`isengard.errors.EXIT_CODES`), the README's table matching it, and the codes
that scripts meet most, each produced for real: an unreachable studio, a cancelled and an interrupted job
followed to their end, a bad value sent to the API, and a reader that stops reading (`… | head`)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

from isengard.errors import EXIT_CODES
from tests.helpers import PROJECT_ROOT, child_env, make_settings, run_cli


def test_the_readme_lists_exactly_the_exit_codes_the_program_uses():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", readme, flags=re.MULTILINE))
    assert {int(code) for code in table} == set(EXIT_CODES)
    for code, words in EXIT_CODES.items():
        assert table[str(code)] == words


def test_a_studio_that_cannot_be_reached_exits_7_not_the_port_in_use_code(tmp_path):
    done = run_cli(
        ["train", "Ada", "--base", "flux-dev", "--server", "http://127.0.0.1:1/"], child_env(tmp_path)
    )
    assert done.returncode == 7, done.stderr
    assert "Could not reach the studio" in done.stderr and "Traceback" not in done.stderr


def _jobs(tmp_path: Path) -> tuple[str, str]:
    """A cancelled job and an interrupted one in a data folder (the studio stopped while it ran)."""
    from isengard.context import bootstrap

    settings = make_settings(tmp_path)
    ctx = bootstrap(settings, console=False)
    running = threading.Event()

    def nap(job, params):
        running.set()
        while not job.is_cancelled():
            job.progress(message="napping")
            running.wait(0.05)
        job.check_cancelled()

    ctx.runner.register("nap", nap, uses_gpu=False)
    cancelled = ctx.runner.submit("nap", {}, title="Nap")
    running.wait(10)
    ctx.runner.cancel(cancelled)
    assert ctx.runner.wait(cancelled, 10).status == "cancelled"
    running.clear()
    interrupted = ctx.runner.submit("nap", {}, title="Nap again")
    running.wait(10)
    ctx.close()  # the studio stops while the job runs
    return cancelled, interrupted


def test_following_a_cancelled_job_exits_8_and_an_interrupted_one_9(tmp_path):
    cancelled, interrupted = _jobs(tmp_path)
    env = child_env(tmp_path, DATA_DIR=str(tmp_path / "data"), LOG_DIR=str(tmp_path / "logs"))
    assert run_cli(["jobs", "follow", cancelled], env).returncode == 8
    assert run_cli(["jobs", "follow", interrupted], env).returncode == 9


def test_output_cut_short_by_its_reader_is_no_error(tmp_path):
    """`python -m isengard doctor --json | head -c 1`: the reader goes away; no BrokenPipeError."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "isengard", "doctor", "--json"],
        cwd=PROJECT_ROOT,
        env=child_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader has gone before anything was written
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err and b"BrokenPipe" not in err


def test_the_api_takes_json_types_as_they_are():
    import pytest

    from isengard.errors import InputError
    from isengard.training.presets import json_typed

    with pytest.raises(InputError, match=r"Training steps must be a number, not the text '10'\."):
        json_typed({"steps": "10"})
    with pytest.raises(InputError, match="must be true or false"):
        json_typed({"train_conv": 1})
    with pytest.raises(InputError, match="must be a number, not true/false"):
        json_typed({"rank": True})
    json_typed({"steps": 10, "learning_rate": 1e-4, "train_conv": False, "optimizer": "adamw", "unknown": 1})
