"""A child process for the full-disk test: a studio on DATA_DIR whose one job writes big progress messages
once the disk is full (so the database must grow, and cannot), then the process exits at once — before
space comes back. `python -m tests.faults.disk_full_child FLAG [inject]`: the job writes `started` beside
FLAG and waits for the file FLAG;
with `inject`, the full disk is simulated in this process (where no tmpfs can be mounted)."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> None:
    flag, inject = Path(sys.argv[1]), sys.argv[2:] == ["inject"]
    from isengard.context import bootstrap

    ctx = bootstrap(console=False)

    def writer(job, params):
        flag.with_name("started").write_text("yes")
        while not flag.exists():
            time.sleep(0.05)
        if inject:
            import pytest

            from tests.faults.conftest import WriteFaults

            WriteFaults(pytest.MonkeyPatch()).start("full")
        for i in range(1000):
            job.progress(step=i, total=1000, message="x" * 200_000)
        return {}

    ctx.runner.register("writer", writer, uses_gpu=False)
    job_id = ctx.runner.submit("writer", {}, title="Writer")
    print(job_id, flush=True)
    job = ctx.runner.wait(job_id, timeout=120)
    print(job.status, job.error, flush=True)
    ctx.close()


if __name__ == "__main__":
    main()
