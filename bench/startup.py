"""Start-up of every command: `python -m isengard doctor` (and `models list`) here against the same
commands at an earlier commit (default: the last one that imported torch to find the GPU), run from a
temporary git worktree, interleaved, medians. Also the bare `import torch` for scale.
Usage: python bench/startup.py [--before COMMIT] [--repeats 7]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import _common

BEFORE = "554cec2"  # GPU detection imported torch up to this commit


def command(root: Path, args: list[str], env: dict) -> callable:
    def run() -> None:
        done = subprocess.run(
            [sys.executable, "-m", "isengard", *args], cwd=root, env=env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from tests.helpers import child_env

    with tempfile.TemporaryDirectory(prefix="isengard-startup-") as tmp:
        tmp = Path(tmp)
        old = tmp / "before"
        subprocess.run(["git", "-C", str(_common.ROOT), "worktree", "add", "--detach", str(old), args.before],
                       check=True, capture_output=True)  # fmt: skip
        try:
            env = child_env(tmp / "home")
            runs = {
                "doctor_now": command(_common.ROOT, ["doctor", "--json"], env),
                "doctor_before": command(old, ["doctor", "--json"], env),
                "models_list_now": command(_common.ROOT, ["models", "list", "--json"], env),
                "models_list_before": command(old, ["models", "list", "--json"], env),
                "import_torch": lambda: subprocess.run([sys.executable, "-c", "import torch"], check=True),
            }
            command(_common.ROOT, ["doctor", "--json"], env)()  # create the data folder once
            times = _common.interleaved(runs, args.repeats)
        finally:
            subprocess.run(["git", "-C", str(_common.ROOT), "worktree", "remove", "--force", str(old)],
                           capture_output=True)  # fmt: skip
    report = _common.summary(times, "doctor_before")
    report["models_list_now"]["ratio_to_before"] = round(
        report["models_list_now"]["median_s"] / report["models_list_before"]["median_s"], 3
    )
    _common.write_report("startup", {"before_commit": args.before, "results": report})


if __name__ == "__main__":
    main()
