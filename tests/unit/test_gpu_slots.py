"""Every GPU of one machine: slot i is GPU i, two jobs never share a slot, a waiting job says what it waits
for, each view says where a job runs, and the plugins put their models on the GPU the job holds. The GPU
list is replaced (`gpus=` / `device.list_gpus`): this machine has none."""

from __future__ import annotations

import threading
import types

import pytest

from isengard import device
from isengard.device import GpuPlace
from isengard.jobs import JobRunner
from isengard.jobs.reading import read
from isengard.obs import setup_logging
from isengard.settings import Settings
from isengard.storage.db import Database
from plugins.base import subprocess_gpu, warm_memory
from tests.helpers import wait_for

FOUR = tuple(GpuPlace(i, str(i), "NVIDIA H100 80GB HBM3", 79.6) for i in range(4))


@pytest.fixture
def two_gpus(tmp_path):
    setup_logging(tmp_path / "logs", "DEBUG", console=False)
    db = Database(tmp_path / "jobs.db")
    runner = JobRunner(db, gpu_slots=2, lock_dir=tmp_path / "locks", gpus=lambda: FOUR[:2])
    runner.start()
    yield runner
    runner.shutdown()
    db.close()


def test_each_job_gets_its_own_gpu_and_a_third_waits_saying_for_what(two_gpus):
    runner = two_gpus
    release = {name: threading.Event() for name in ("a", "b", "c")}
    running: dict[str, str] = {}  # device -> job, while a job holds it
    seen: list[tuple[str, str]] = []
    clash: list[str] = []
    guard = threading.Lock()

    def handler(ctx, params):
        with guard:
            if ctx.device in running:
                clash.append(f"{params['name']} on {ctx.device} held by {running[ctx.device]}")
            running[ctx.device] = params["name"]
            seen.append((params["name"], ctx.device))
        release[params["name"]].wait(30)
        with guard:
            running.pop(ctx.device, None)
        return {"device": ctx.device}

    runner.register("work", handler, uses_gpu=True)
    a = runner.submit("work", {"name": "a"}, title="Train Ada")
    wait_for(lambda: len(seen) == 1, timeout=10)
    b = runner.submit("work", {"name": "b"}, title="Train Bo")
    wait_for(lambda: len(seen) == 2, timeout=10)
    assert {d for _, d in seen} == {"cuda:0", "cuda:1"}
    c = runner.submit("work", {"name": "c"}, title="Make pictures")
    wait_for(lambda: "Waiting" in str(runner.get(c).progress.get("message", "")), timeout=10)
    waiting = runner.get(c).progress["message"]
    assert waiting.startswith("Waiting for a free GPU: all 2 are busy (")
    assert "Train Ada on GPU" in waiting and "Train Bo on GPU" in waiting

    job_a = runner.get(a)
    where = read(job_a).where
    assert where in ("GPU 1 of 2", "GPU 2 of 2") and f"on {where}" in job_a.summary()
    freed = dict(seen)["a"]
    release["a"].set()
    wait_for(lambda: len(seen) == 3, timeout=10)
    assert seen[2] == ("c", freed)  # the third job takes the GPU the first gave back
    release["b"].set()
    release["c"].set()
    for job_id in (a, b, c):
        assert runner.wait(job_id, timeout=20).status == "succeeded"
    assert clash == []
    assert read(runner.get(a)).where is None  # a finished job runs nowhere


def test_one_gpu_says_nothing_about_gpus(tmp_path):
    db = Database(tmp_path / "jobs.db")
    runner = JobRunner(db, gpu_slots=1, lock_dir=tmp_path / "locks", gpus=lambda: FOUR[:1])
    runner.start()
    try:
        runner.register("work", lambda ctx, p: {"device": ctx.device}, uses_gpu=True)
        job = runner.wait(runner.submit("work", {}, title="Train"), timeout=20)
        assert job.result == {"device": "cuda:0"}
        assert "gpu" not in job.progress  # "GPU 1 of 1" would be noise
    finally:
        runner.shutdown()
        db.close()


def test_more_slots_than_gpus_take_turns_round_the_gpus(tmp_path):
    db = Database(tmp_path / "jobs.db")
    runner = JobRunner(db, gpu_slots=4, lock_dir=tmp_path / "locks", gpus=lambda: FOUR[:2])
    runner.start()
    gate = threading.Event()
    try:

        def handler(ctx, params):
            gate.wait(30)
            return {"device": ctx.device}

        runner.register("work", handler, uses_gpu=True)
        ids = [runner.submit("work", {}, title=f"Job {i}") for i in range(4)]
        wait_for(lambda: all(runner.get(i).status == "running" for i in ids), timeout=10)
        gate.set()
        devices = sorted(runner.wait(i, timeout=20).result["device"] for i in ids)
        assert devices == ["cuda:0", "cuda:0", "cuda:1", "cuda:1"]
    finally:
        gate.set()
        runner.shutdown()
        db.close()


def test_worker_concurrency_defaults_to_the_number_of_gpus(tmp_path, monkeypatch):
    env = {"ISENGARD_MODE": "fast-test"}
    settings = Settings.from_env(env, volume_roots=(), project_root=tmp_path)
    monkeypatch.setattr(device, "list_gpus", lambda: FOUR)
    assert settings.worker_concurrency == 4
    monkeypatch.setattr(device, "list_gpus", lambda: ())
    assert settings.worker_concurrency == 1  # a CPU still runs one job at a time
    chosen = Settings.from_env(env | {"WORKER_CONCURRENCY": "2"}, volume_roots=(), project_root=tmp_path)
    monkeypatch.setattr(device, "list_gpus", lambda: FOUR)
    assert chosen.worker_concurrency == 2  # what the person set wins


def test_a_subprocess_is_given_the_gpu_the_job_holds():
    assert subprocess_gpu("cuda:2", {}) == "2"
    assert subprocess_gpu("cuda:1", {"CUDA_VISIBLE_DEVICES": "3,1"}) == "1"
    assert subprocess_gpu("cuda:0", {"CUDA_VISIBLE_DEVICES": "GPU-8a1c,GPU-77"}) == "GPU-8a1c"
    assert subprocess_gpu(None, {}) is None and subprocess_gpu("cpu", {}) is None


def test_the_plugins_put_their_models_on_the_gpu_the_job_holds(monkeypatch):
    """The trainer and the image backend choose `request.device` (a CUDA machine stood in for)."""
    import torch

    from plugins.image.diffusers_backend import backend
    from plugins.image.interface import ImageRequest
    from plugins.training.diffusers_trainer import trainer

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(trainer, "bf16_on", lambda d: d == "cuda:1")
    params = types.SimpleNamespace(mixed_precision="bf16")
    assert trainer.pick_device(params, "cuda:1") == ("cuda:1", torch.bfloat16)
    assert trainer.pick_device(params, "cuda:0") == ("cuda:0", torch.float16)
    assert trainer.pick_device(params, None)[0] == "cuda"
    monkeypatch.setattr(backend, "bf16_on", lambda d: True)
    request = ImageRequest(prompt="p", base=None, device="cuda:3")
    assert backend.DiffusersImageBackend._device_dtype(request) == ("cuda:3", torch.bfloat16)


class _Pipe:
    """A test double of a diffusers pipeline: its size, its scheduler, where it was put."""

    def __init__(self, size: int):
        self.components = {"unet": torch_module(size)}
        self.scheduler = types.SimpleNamespace(config={"_class_name": "X"})
        self.put_on: list[str] = []

    def to(self, where):
        self.put_on.append(where)
        return self


def torch_module(size: int):
    import torch

    return torch.nn.Linear(size, 1, bias=False)


def test_each_gpu_keeps_its_own_warm_pipelines():
    from plugins.image.diffusers_backend.cache import PipelineCache

    one_pipe = 4 * 1000  # bytes of a _Pipe(1000)
    cache = PipelineCache(budget_bytes=one_pipe)
    try:
        cache.get(("a", "cuda:0"), "flux", lambda: _Pipe(1000), device="cuda:0")
        cache.get(("a", "cuda:1"), "flux", lambda: _Pipe(1000), device="cuda:1")
        assert sorted(cache.loaded()) == [("a", "cuda:0"), ("a", "cuda:1")]  # one budget per GPU
        cache.get(("b", "cuda:1"), "flux", lambda: _Pipe(1000), device="cuda:1")
        assert sorted(cache.loaded()) == [("a", "cuda:0"), ("b", "cuda:1")]  # evicted on its own GPU only
        warm_memory.make_room(None, "cuda:1")  # a training starting on GPU 1
        assert cache.loaded() == [("a", "cuda:0")]
    finally:
        cache.clear()


def test_training_and_pictures_side_by_side_each_on_its_gpu(tmp_path, monkeypatch):
    """Through the services: a training and a generation run at once, each request naming its own GPU."""
    from isengard.context import bootstrap
    from isengard.generation.service import GenerateForm
    from tests.helpers import make_settings, solid_photos

    monkeypatch.setattr(device, "list_gpus", lambda: FOUR[:2])
    ctx = bootstrap(make_settings(tmp_path), console=False)
    try:
        assert ctx.runner.gpu_slots == 2
        asked: dict[str, str | None] = {}
        both_running = threading.Barrier(2, timeout=20)
        trainer, drawer = ctx.registry.get("training", "mock"), ctx.registry.get("image", "mock")
        train_run, draw_run = trainer.run, drawer.run

        def train(request, run_ctx):  # test double around the mock trainer: records where it was sent
            asked["train"] = request.device
            both_running.wait()
            return train_run(request, run_ctx)

        def draw(request, run_ctx):
            asked["draw"] = request.device
            both_running.wait()
            return draw_run(request, run_ctx)

        monkeypatch.setattr(trainer, "run", train)
        monkeypatch.setattr(drawer, "run", draw)
        person = ctx.characters.create("Side Person")
        ctx.characters.add_photos(person.id, [(p, p.name) for p in solid_photos(tmp_path / "in")])
        training = ctx.training.submit(
            person.id, base_model="flux-dev", backend="mock", overrides={"steps": 5}
        )
        picture, _ = ctx.generation.submit(GenerateForm(prompt="a garden", count=1, steps=2))
        for job_id in (training, picture):
            job = ctx.runner.wait(job_id, timeout=60)
            assert job.status == "succeeded", job.error
        assert sorted(asked.values()) == ["cuda:0", "cuda:1"]
    finally:
        ctx.close()


def test_a_worker_machine_serves_the_gpus_named_each_in_its_own_process(monkeypatch):
    from isengard.cli import worker_cmd
    from isengard.errors import InputError
    from isengard.jobs import worker_main

    monkeypatch.setattr(device, "list_gpus", lambda: FOUR[:3])
    assert worker_cmd.chosen_gpus(None) == ["0", "1", "2"]
    assert worker_cmd.chosen_gpus("2, 0") == ["2", "0"]
    with pytest.raises(InputError, match="There is no GPU 7 on this machine"):
        worker_cmd.chosen_gpus("0,7")
    started = []

    class Child:  # test double of subprocess.Popen: what each worker process is started with
        def __init__(self, command, env):
            started.append((command, env.get("CUDA_VISIBLE_DEVICES")))

    monkeypatch.setattr(worker_main.subprocess, "Popen", Child)
    worker_main.launch(["2", "0"], env={}, name="box", server="http://studio:7860")
    assert [(c[c.index("--this-gpu") + 1], gpu) for c, gpu in started] == [("2", "2"), ("0", "0")]
    assert all(c[c.index("--name") + 1] == f"box-{gpu}" and "http://studio:7860" in c for c, gpu in started)
    started.clear()
    worker_main.launch(None, env={})
    assert started[0][0][-1] == "cpu" and started[0][1] is None  # no GPU: one CPU worker
