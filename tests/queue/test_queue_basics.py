"""GPU work through Redis (RQ) to a real worker process that shares the studio's data folder: the job
looks to the studio exactly as a local one does, and says what it waits for."""

from __future__ import annotations

import dataclasses
import signal
import time

from isengard.generation.service import GenerateForm
from isengard.jobs.reading import read
from tests.helpers import wait_for
from tests.redis_fixtures import worker_env


def test_no_worker_is_said_then_a_worker_takes_the_job(handing_out_studio, workers, tmp_path, redis_server):
    ctx = handing_out_studio
    job_id, _ = ctx.generation.submit(GenerateForm(prompt="a garden", count=1, steps=2))
    wait_for(
        lambda: (
            ctx.runner.get(job_id).progress.get("message") == "Waiting for a GPU worker: none is connected"
        ),
        timeout=20,
    )
    assert ctx.runner.get(job_id).status == "running"  # its thread follows the queue
    process = workers.start(worker_env(tmp_path, redis_server.url), "w1")
    job = ctx.runner.wait(job_id, timeout=90)
    assert job.status == "succeeded", (job.error, workers.output("w1")[-3000:])
    assert job.progress.get("worker") == "w1"
    assert read(job).where is None  # it ran there; once ended it runs nowhere
    running = dataclasses.replace(job, status="running")
    assert read(running).where == "worker w1 (CPU)" and "on worker w1 (CPU)" in running.summary()
    time.sleep(2)  # idle, waiting on the queue: `docker stop` must not wait out RQ's minute-long listener
    asked = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0
    assert time.monotonic() - asked < 5
    assert ctx.runner.placement.workers() == []  # it said goodbye: no stale entry in Settings → Workers
    assert len(job.result["images"]) == 1
