"""An out-of-memory never ends a training that lighter settings can finish: the real built-in trainer on the
tiny FLUX model, with `torch.cuda.OutOfMemoryError` raised once (a test double wrapped around the stage's own
code) while loading, at the first step, mid-run, while sampling and while saving. Each run steps down as the
memory model says, says so in the status, keeps the new settings for a later Resume, resumes from its last
checkpoint, and finishes; a run that nothing lighter helps fails with what would fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from isengard.training.presets import load_presets
from plugins.base import PluginError
from plugins.training.diffusers_trainer import DiffusersTrainer
from plugins.training.diffusers_trainer.families.flux import FluxFamily
from plugins.training.diffusers_trainer.trainer import LoraTrainer
from tests.helpers import install_tiny, make_settings, read_log_lines, solid_photos

pytestmark = pytest.mark.slow
RUN = {"steps": 20, "save_every": 10, "sample_every": 0, "gradient_checkpointing": False, "low_vram": False}


@pytest.fixture
def studio(tmp_path, tiny_models):
    from isengard.context import bootstrap

    settings = make_settings(tmp_path, mode="production")
    install_tiny(settings.data_dir, "flux", tiny_models)
    ctx = bootstrap(settings, console=False)
    person = ctx.characters.create("Memory Tester")
    ctx.characters.add_photos(person.id, [(p, p.name) for p in solid_photos(tmp_path / "p")])
    ctx.person = person.id
    yield ctx
    ctx.close()


def once_out_of_memory(monkeypatch, owner, name: str, *, on_call: int = 1) -> list[int]:
    """`owner.name` raises CUDA's out-of-memory on its `on_call`-th call, then works as before."""
    original = getattr(owner, name)
    calls = [0]

    def flaky(*args, **kwargs):
        calls[0] += 1
        if calls[0] == on_call:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (test double)")
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)
    return calls


def train(ctx, **overrides):
    job_id = ctx.training.submit(
        ctx.person, base_model="tiny-flux", preset="tiny-cpu", overrides=RUN | overrides
    )
    return ctx.runner.wait(job_id, timeout=300)


def losses(ctx, job_id: str) -> dict[int, float]:
    out = {}
    for e in ctx.runner.events(job_id, type_="progress"):
        if "loss" in e.data:
            out[e.data["step"]] = e.data["loss"]
    return out


def messages(ctx, job_id: str) -> list[str]:
    return [e.data["message"] for e in ctx.runner.events(job_id, type_="progress") if e.data.get("message")]


@pytest.mark.parametrize(
    ("stage", "owner", "name", "on_call", "said", "changed"),
    [
        ("loading", FluxFamily, "load", 1, "while preparing — continuing in Low-VRAM mode from the start", "low_vram"),
        ("first step", FluxFamily, "loss", 1, "continuing with gradient checkpointing from the start", "gradient_checkpointing"),
        ("mid-run", FluxFamily, "loss", 15, "continuing with gradient checkpointing from step 10", "gradient_checkpointing"),
        ("saving", LoraTrainer, "save_final", 1, "continuing with gradient checkpointing from step 10", "gradient_checkpointing"),
    ],
)  # fmt: skip
def test_an_out_of_memory_steps_down_and_finishes(
    studio, monkeypatch, stage, owner, name, on_call, said, changed
):
    once_out_of_memory(monkeypatch, owner, name, on_call=on_call)
    job = train(studio)
    assert job.status == "succeeded", job.error
    assert job.result["steps"] == 20
    assert any(said in m for m in messages(studio, job.id)), messages(studio, job.id)
    assert job.params["params"][changed] is True and job.params["resume"] is True  # a later Resume keeps it
    lines = [
        line
        for line in read_log_lines(studio.paths.logs, "worker")
        if line.get("event") == "training.oom_step_down"
    ]
    assert lines and lines[-1]["correlation_id"] == job.correlation_id and said in lines[-1]["message"]
    assert sorted(losses(studio, job.id)) == list(range(1, 21))


def test_mid_run_resumes_from_the_checkpoint_with_the_same_losses(studio, monkeypatch):
    """Gradient checkpointing recomputes rather than changes: the steps after the resume match a run that
    never ran out of memory."""
    reference = losses(studio, train(studio).id)
    once_out_of_memory(monkeypatch, FluxFamily, "loss", on_call=15)
    job = train(studio)
    assert job.status == "succeeded"
    resumed = losses(studio, job.id)
    for step in range(11, 21):
        assert resumed[step] == pytest.approx(reference[step], rel=1e-4), step


def test_an_out_of_memory_while_sampling_draws_the_samples_in_tiles(studio, monkeypatch):
    """A sample that runs out is drawn again with the VAE in tiles (the trainer's own recovery, once per
    run); only if that fails too does the run step down."""
    calls = once_out_of_memory(monkeypatch, FluxFamily, "sample", on_call=3)  # a step-10 sample
    job = train(studio, sample_every=10)
    assert job.status == "succeeded", job.error
    said = [m for m in messages(studio, job.id) if m.startswith("Out of GPU memory")]
    assert said == ["Out of GPU memory while making samples — drawing them with the VAE in tiles"]
    samples = sorted(p.name for p in (studio.paths.training_run_dir(job.id) / "samples").glob("*.png"))
    assert len(samples) == calls[0] - 1  # every sample drawn, the one that ran out drawn again


def test_a_sample_that_runs_out_again_goes_to_the_step_down(studio, monkeypatch):
    original = FluxFamily.sample
    calls = [0]

    def twice(*args, **kwargs):
        calls[0] += 1
        if calls[0] in (3, 4):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (test double)")
        return original(*args, **kwargs)

    monkeypatch.setattr(FluxFamily, "sample", twice)
    job = train(studio, sample_every=10)
    said = [m for m in messages(studio, job.id) if m.startswith("Out of GPU memory")]
    assert said == ["Out of GPU memory while making samples — drawing them with the VAE in tiles"]
    # at the tiny runs' 64 px nothing lighter lowers what a sample needs: the job ends saying so
    assert job.status == "failed"
    assert job.error.startswith(
        "The GPU ran out of memory even with the lightest settings Isengard can choose"
    )


def test_when_nothing_lighter_helps_the_job_fails_with_what_would_fit(studio, monkeypatch):
    once_out_of_memory(monkeypatch, FluxFamily, "loss", on_call=1)
    job = train(studio, gradient_checkpointing=True, low_vram=True)
    assert job.status == "failed"
    assert job.error.startswith(
        "The GPU ran out of memory even with the lightest settings Isengard can choose"
    )
    assert "about" in job.error and "GB" in job.error and "Use a GPU with more memory" in job.error


def test_a_gpu_preset_steps_down_through_what_the_memory_model_offers(studio, monkeypatch):
    """The FLUX 24 GB preset on a GPU that keeps running out (the backend replaced by a test double that
    always fails as an out-of-memory at the first step): the settings get lighter each time, in the memory
    model's order, until nothing lighter is left — never the same settings twice."""
    tried = []

    def always_out_of_memory(self, request, run_ctx):
        tried.append(json.dumps(request.params.__dict__, sort_keys=True))
        raise PluginError(
            "The GPU ran out of memory.",
            code="oom",
            details={"phase": "training", "on_gpu": True, "vram_gb": 8.0},
        )

    monkeypatch.setattr(DiffusersTrainer, "run", always_out_of_memory)
    monkeypatch.setattr(
        studio.models, "resolve", lambda model, progress=None, **_: model.ref(Path("/nowhere"))
    )
    monkeypatch.setattr(studio.models, "ensure_can_start", lambda model: None)
    job = studio.runner.wait(
        studio.training.submit(studio.person, base_model="flux-dev", preset="flux-24gb"), 60
    )
    assert job.status == "failed" and "this GPU has 8 GB" in job.error
    assert len(tried) == len(set(tried)) > 2
    said = [m for m in messages(studio, job.id) if m.startswith("Out of GPU memory")]
    assert said[0] == "Out of GPU memory at 1024 px — continuing at 768 px from the start"
    assert next(p for p in load_presets() if p.id == "flux-24gb").params["resolution"] == 1024
