"""The queue's faults end truthfully and lose nothing (fast-test plugins on real worker processes):
the place in line, Redis restarted with jobs waiting, a worker with the wrong token, a worker of another
version."""

from __future__ import annotations

import json
import time

from isengard.generation.service import GenerateForm
from isengard.jobs import wire
from tests.helpers import solid_photos, wait_for
from tests.redis_fixtures import worker_env


def _message(ctx, job_id: str) -> str:
    return str(ctx.runner.get(job_id).progress.get("message", ""))


def _picture(ctx) -> str:
    return ctx.generation.submit(GenerateForm(prompt="a garden", count=1, steps=2))[0]


def test_a_job_in_line_says_its_place_and_how_busy_the_workers_are(
    handing_out_studio, workers, tmp_path, redis_server
):
    ctx = handing_out_studio
    workers.start(worker_env(tmp_path, redis_server.url), "only")
    wait_for(lambda: len(ctx.runner.placement.workers()) == 1, timeout=30)
    person = ctx.characters.create("Busy Person")
    ctx.characters.add_photos(person.id, [(p, p.name) for p in solid_photos(tmp_path / "p")])
    training = ctx.training.submit(person.id, base_model="flux-dev", backend="mock", overrides={"steps": 120})
    wait_for(lambda: ctx.runner.get(training).progress.get("worker") == "only", timeout=30)
    first, second = _picture(ctx), _picture(ctx)  # their threads hand them out in either order
    wait_for(
        lambda: (
            {_message(ctx, first), _message(ctx, second)}
            == {"1st in line · 1 of 1 GPU worker busy", "2nd in line · 1 of 1 GPU worker busy"}
        ),
        timeout=20,
    )
    for job_id in (training, first, second):
        assert ctx.runner.wait(job_id, timeout=60).status == "succeeded"


def test_redis_restarted_with_jobs_waiting_runs_each_once(
    handing_out_studio, workers, tmp_path, redis_server
):
    ctx = handing_out_studio
    jobs = [_picture(ctx) for _ in range(3)]
    for job_id in jobs:
        wait_for(
            lambda j=job_id: _message(ctx, j) == "Waiting for a GPU worker: none is connected", timeout=20
        )
    redis_server.stop()  # everything queued in Redis is gone with it
    for job_id in jobs:
        wait_for(lambda j=job_id: _message(ctx, j).startswith("The job queue cannot be reached"), timeout=20)
        assert ctx.runner.get(job_id).status == "running"  # still the studio's: nothing is lost
    time.sleep(1)
    redis_server.start()  # empty, as after a restart without persistence
    for job_id in jobs:
        wait_for(lambda j=job_id: "none is connected" in _message(ctx, j), timeout=30)
    workers.start(worker_env(tmp_path, redis_server.url), "after")
    for job_id in jobs:
        job = ctx.runner.wait(job_id, timeout=60)
        assert job.status == "succeeded", job.error
    started = [
        json.loads(line)["context"]["job_id"]
        for line in _log_lines(tmp_path)
        if '"worker.job_started"' in line
    ]
    assert sorted(started) == sorted(jobs)  # each ran once


def _log_lines(root) -> list[str]:
    return [line for path in (root / "logs").rglob("*.log") for line in path.read_text().splitlines()]


def test_a_worker_with_the_wrong_token_is_refused_and_the_token_is_not_logged(
    handing_out_studio, workers, tmp_path, redis_server
):
    wrong = "not-the-studio-token-0123456789"
    env = worker_env(tmp_path, redis_server.url, ISENGARD_WORKER_TOKEN=wrong)
    process = workers.start(env, "intruder")
    assert process.wait(60) == 7
    said = workers.output("intruder")
    assert "This worker's token does not match the studio's" in said
    assert wrong not in said
    logs = "\n".join(_log_lines(tmp_path))
    assert '"worker.token_refused"' in logs and wire.token_hint(wrong) in logs
    assert wrong not in logs
    assert handing_out_studio.runner.placement.workers() == []  # it never served


def test_a_worker_of_another_version_is_named_and_never_given_the_job(handing_out_studio, redis_server):
    ctx = handing_out_studio
    old = {"name": "old-box-gpu0", "version": "0.0.9+wire0", "gpu": "NVIDIA L4", "heartbeat": time.time()}
    ctx.runner.placement.redis.set(wire.worker_key(old["name"]), json.dumps(old), ex=60)
    job_id = _picture(ctx)
    wait_for(
        lambda: (
            _message(ctx, job_id)
            == "Waiting for a GPU worker: 1 connected, but of another Isengard version (0.0.9+wire0)"
        ),
        timeout=20,
    )
    ctx.runner.cancel(job_id)
    job = ctx.runner.wait(job_id, timeout=20)
    assert job.status == "cancelled" and job.error == "Cancelled before it started."
