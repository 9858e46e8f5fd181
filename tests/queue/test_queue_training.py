"""A tiny training through Redis on real worker processes — one sharing the studio's data folder, two with
their own that fetch and send files over the studio's HTTP: the LoRA, its checkpoints and samples land in
the studio's store; Stop reaches the worker within seconds; a worker killed with `kill -9` mid-training is
replaced by another that resumes from the checkpoint it sent, and the losses after the resume equal those
of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.helpers import child_env, free_port, install_tiny, make_settings, solid_photos, wait_for
from tests.redis_fixtures import worker_env

pytestmark = pytest.mark.slow

OVERRIDES = {"steps": 40, "save_every": 10, "sample_every": 20, "caption_dropout": 0.2}


@pytest.fixture
def studio(tmp_path, redis_server, tiny_models):
    """A studio serving HTTP (workers without a shared disk fetch and send files there), handing out work."""
    from isengard.context import bootstrap
    from isengard.server import launch

    env = {"REDIS_URL": redis_server.url, "WORKER_CONCURRENCY": "0", "PORT": str(free_port())}
    settings = make_settings(tmp_path, mode="production", env=env)
    install_tiny(settings.data_dir, "flux", tiny_models)
    ctx = bootstrap(settings, console=False)
    blocks, url = launch(ctx, block=False)
    ctx.extras["url"] = url
    yield ctx
    blocks.close()
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

    # 1. straight through one worker: the LoRA, its checkpoints and samples are the studio's, and a script
    #    following the job through the studio's API (no browser) sees its steps as they happen
    from gradio_client import Client

    client = Client(ctx.extras["url"], verbose=False)
    job_id = _train(ctx, person.id)
    seen_steps = set()
    while (followed := client.predict(job_id=job_id, api_name="/job"))["status"] in ("queued", "running"):
        if followed["progress"].get("worker") == "first" and "loss" in followed["progress"]:
            seen_steps.add(followed["progress"]["step"])
        time.sleep(0.05)
    assert len(seen_steps) >= 3 and min(seen_steps) < 40  # live, not only at the end
    straight = ctx.runner.get(job_id)
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
    assert stopped.status == "cancelled" and stopped.error.startswith("Stopped at step"), stopped.error
    assert took < 8, took
    wait_for(lambda: all(not w.get("job") for w in ctx.runner.placement.workers()), timeout=20)

    # 3. two workers with their own data folders: one is killed with kill -9 mid-training, the other
    #    resumes from the checkpoint the first sent to the studio, with the uninterrupted run's losses
    first.send_signal(signal.SIGTERM)
    assert first.wait(30) == 0
    wait_for(lambda: ctx.runner.placement.workers() == [], timeout=30)
    url = ctx.extras["url"]

    def own(name: str) -> dict[str, str]:
        token = ctx.runner.placement.token  # what a person copies to the other machine
        return child_env(
            tmp_path / name,
            REDIS_URL=redis_server.url,
            ISENGARD_MODE="production",
            ISENGARD_WORKER_TOKEN=token,
        )

    doomed = workers.start(own("a"), "own-a", "--server", url)
    wait_for(lambda: len(ctx.runner.placement.workers()) == 1, timeout=60)
    job_id = _train(ctx, person.id)
    wait_for(lambda: ctx.runner.get(job_id).progress.get("worker") == "own-a", timeout=120)
    workers.start(own("b"), "own-b", "--server", url)
    wait_for(lambda: len(ctx.runner.placement.workers()) == 2, timeout=60)
    wait_for(lambda: ctx.runner.get(job_id).progress.get("step", 0) >= 15, timeout=180, interval=0.01)
    killed_at = time.monotonic()
    os.kill(doomed.pid, signal.SIGKILL)
    wait_for(lambda: ctx.runner.get(job_id).progress.get("worker") == "own-b", timeout=60)
    back_in = time.monotonic() - killed_at
    finished = ctx.runner.wait(job_id, timeout=300)
    assert finished.status == "succeeded", (finished.error, workers.output("own-b")[-3000:])
    assert finished.result["steps"] == 40
    assert back_in < 60, back_in
    said = [e.data.get("message", "") for e in ctx.runner.events(job_id, type_="progress")]
    assert any(m.startswith("Its GPU worker stopped answering") for m in said), said
    assert any(m.startswith("Resumed from the checkpoint at step") for m in said), said
    ran_on = [e.data["worker"] for e in ctx.runner.events(job_id, type_="progress") if "worker" in e.data]
    assert ran_on == ["own-a", "own-b"]  # the first run's lines were not relayed a second time
    resumed = _losses(ctx, job_id)
    assert sorted(resumed) == list(range(1, 41))
    for step in range(21, 41):  # after the resume (from step 10 or 20): the uninterrupted run's losses
        assert resumed[step] == pytest.approx(reference[step], rel=1e-5), step
    final = ctx.loras.get(finished.result["lora_id"])
    assert Path(final.path).is_relative_to(ctx.paths.data) and Path(final.path).is_file()
    steps = sorted(r.step for r in ctx.loras.for_job(job_id) if r.kind == "checkpoint")
    assert steps == [10, 20, 30]
    assert all(
        Path(s).is_relative_to(ctx.paths.data) and Path(s).is_file() for s in finished.result["samples"]
    )
    assert not (tmp_path / "data" / "secrets").is_relative_to(tmp_path / "a")  # nothing private was copied
    assert not (tmp_path / "a" / "data" / "secrets" / "worker-token").exists()
