"""A tiny training through Redis on real worker processes sharing the studio's data folder: the LoRA, its
checkpoints and samples land in the studio's store; Stop reaches the worker within seconds; a worker killed
with `kill -9` mid-training is replaced by another that resumes from the checkpoint, and the losses after
the resume equal those of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.helpers import install_tiny, make_settings, solid_photos, wait_for
from tests.redis_fixtures import worker_env

pytestmark = pytest.mark.slow

OVERRIDES = {"steps": 40, "save_every": 10, "sample_every": 20, "caption_dropout": 0.2}


@pytest.fixture
def studio(tmp_path, redis_server, tiny_models):
    from isengard.context import bootstrap

    settings = make_settings(
        tmp_path, mode="production", env={"REDIS_URL": redis_server.url, "WORKER_CONCURRENCY": "0"}
    )
    install_tiny(settings.data_dir, "flux", tiny_models)
    ctx = bootstrap(settings, console=False)
    yield ctx
    ctx.close()


def _losses(ctx, job_id: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for event in ctx.runner.events(job_id, type_="progress"):
        if "loss" in event.data:
            out[event.data["step"]] = event.data["loss"]
    return out


def _train(ctx, character_id: int) -> str:
    return ctx.training.submit(character_id, base_model="tiny-flux", preset="tiny-cpu", overrides=OVERRIDES)


def test_training_on_workers_lands_in_the_studio_stops_and_survives_a_killed_worker(
    studio, workers, tmp_path, redis_server
):
    ctx = studio
    env = worker_env(tmp_path, redis_server.url, ISENGARD_MODE="production")
    first = workers.start(env, "first")
    person = ctx.characters.create("Queue Person")
    ctx.characters.add_photos(person.id, [(p, p.name) for p in solid_photos(tmp_path / "p")])

    # 1. straight through one worker: the LoRA, its checkpoints and samples are the studio's
    straight = ctx.runner.wait(_train(ctx, person.id), timeout=300)
    assert straight.status == "succeeded", (straight.error, workers.output("first")[-3000:])
    assert straight.progress["worker"] == "first"
    lora = ctx.loras.get(straight.result["lora_id"])
    assert Path(lora.path).is_file() and lora.character_id == person.id
    kept = ctx.loras.for_character(person.id, kinds=("checkpoint",))
    assert sorted(r.step for r in kept) == [10, 20, 30]
    assert straight.result["samples"] and all(Path(s).is_file() for s in straight.result["samples"])
    reference = _losses(ctx, straight.id)
    assert sorted(reference) == list(range(1, 41))

    # 2. Stop from the studio ends the job on the worker within seconds, and the worker is free again
    stopping = ctx.training.submit(
        person.id, base_model="tiny-flux", preset="tiny-cpu", overrides=OVERRIDES | {"steps": 400}
    )
    wait_for(lambda: ctx.runner.get(stopping).progress.get("step", 0) >= 3, timeout=120, interval=0.02)
    asked = time.monotonic()
    ctx.runner.cancel(stopping)
    stopped = ctx.runner.wait(stopping, timeout=60)
    took = time.monotonic() - asked
    assert stopped.status == "cancelled" and "Resume continues" in stopped.error, stopped.error
    assert took < 8, took
    wait_for(lambda: all(not w.get("job") for w in ctx.runner.placement.workers()), timeout=20)

    # 3. kill -9 of the worker mid-training: another resumes from the checkpoint, with the same losses
    second = workers.start(env, "second")
    wait_for(lambda: len(ctx.runner.placement.workers()) == 2, timeout=60)
    job_id = _train(ctx, person.id)
    wait_for(lambda: ctx.runner.get(job_id).progress.get("step", 0) >= 15, timeout=180, interval=0.01)
    victim = ctx.runner.get(job_id).progress["worker"]
    process = {"first": first, "second": second}[victim]
    killed_at = time.monotonic()
    os.kill(process.pid, signal.SIGKILL)
    survivor = "second" if victim == "first" else "first"
    wait_for(lambda: ctx.runner.get(job_id).progress.get("worker") == survivor, timeout=60)
    back_in = time.monotonic() - killed_at
    finished = ctx.runner.wait(job_id, timeout=300)
    assert finished.status == "succeeded", (finished.error, workers.output(survivor)[-3000:])
    assert finished.result["steps"] == 40
    assert back_in < 60, back_in
    said = [e.data.get("message", "") for e in ctx.runner.events(job_id, type_="progress")]
    assert any(m.startswith("Its GPU worker stopped answering") for m in said), said
    assert any(m.startswith("Resumed from the checkpoint at step") for m in said), said
    resumed = _losses(ctx, job_id)
    assert sorted(resumed) == list(range(1, 41))
    for step in range(21, 41):  # after the resume (from step 10 or 20): the uninterrupted run's losses
        assert resumed[step] == pytest.approx(reference[step], rel=1e-5), step
