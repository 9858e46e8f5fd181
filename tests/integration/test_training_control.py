"""Stopping, resuming and failing safely: cancel within a step, resume to the same step count with the same
losses, NaN guard keeping the last good checkpoint, the out-of-memory advice, the golden loss curve."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from plugins.base import ModelRef, PluginError, PluginSettings, SimpleRunContext
from plugins.training.diffusers_trainer import DiffusersTrainer
from plugins.training.interface import DatasetItem, TrainingParams, TrainingRequest
from tests.helpers import install_tiny, make_settings, solid_photos, wait_for

pytestmark = pytest.mark.slow
GOLDEN = Path(__file__).parent.parent / "golden" / "tiny_flux_losses.json"


@pytest.fixture
def prod_ctx(tmp_path, tiny_models):
    from isengard.context import bootstrap

    settings = make_settings(tmp_path, mode="production")
    install_tiny(settings.data_dir, "flux", tiny_models)
    ctx = bootstrap(settings, console=False)
    yield ctx
    ctx.close()


def _losses(ctx, job_id: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for event in ctx.runner.events(job_id, type_="progress"):
        if "loss" in event.data:
            out[event.data["step"]] = event.data["loss"]  # a resumed run's later events overwrite the earlier
    return out


def test_stop_then_resume_finishes_with_the_same_losses(prod_ctx, tmp_path):
    ctx = prod_ctx
    character = ctx.characters.create("Resumer")
    ctx.characters.add_photos(character.id, [(p, p.name) for p in solid_photos(tmp_path / "p")])
    overrides = {"steps": 40, "save_every": 10, "sample_every": 0, "caption_dropout": 0.2}
    straight = ctx.runner.wait(
        ctx.training.submit(character.id, base_model="tiny-flux", preset="tiny-cpu", overrides=overrides),
        timeout=300,
    )
    assert straight.status == "succeeded"
    reference = _losses(ctx, straight.id)

    job_id = ctx.training.submit(character.id, base_model="tiny-flux", preset="tiny-cpu", overrides=overrides)
    wait_for(lambda: ctx.runner.get(job_id).progress.get("step", 0) >= 15, timeout=120, interval=0.01)
    ctx.runner.cancel(job_id)
    stopped = ctx.runner.wait(job_id, timeout=60)
    assert stopped.status == "cancelled" and "Resume continues" in stopped.error
    stopped_at = stopped.progress["step"]
    assert stopped_at < 40
    ctx.runner.resume(job_id)
    finished = ctx.runner.wait(job_id, timeout=300)
    assert finished.status == "succeeded" and finished.result["steps"] == 40
    resumed = _losses(ctx, job_id)
    assert sorted(resumed) == list(range(1, 41))
    for step in range(stopped_at + 1, 41):  # the same batches, noise and weights: the same losses
        assert resumed[step] == pytest.approx(reference[step], rel=1e-5), step


def test_cancel_takes_effect_within_one_step(prod_ctx, tmp_path):
    ctx = prod_ctx
    character = ctx.characters.create("Canceller")
    ctx.characters.add_photos(character.id, [(p, p.name) for p in solid_photos(tmp_path / "p")])
    job_id = ctx.training.submit(
        character.id,
        base_model="tiny-flux",
        preset="tiny-cpu",
        overrides={"steps": 5000, "sample_every": 0, "save_every": 1000},
    )
    wait_for(lambda: ctx.runner.get(job_id).progress.get("step", 0) >= 5, timeout=120, interval=0.01)
    ctx.runner.cancel(job_id)
    requested_at = ctx.runner.get(job_id).progress["step"]
    job = ctx.runner.wait(job_id, timeout=60)
    assert job.status == "cancelled"
    assert job.progress["step"] - requested_at <= 2  # the step running plus at most one buffered event
    checkpoints = list(ctx.paths.training_run_dir(job_id).glob("*_0*.safetensors"))
    assert checkpoints, "stopping keeps a checkpoint to resume from"


def _request(tmp_path, tiny_models, **params) -> TrainingRequest:
    path = install_tiny(tmp_path / "data", "flux", tiny_models)
    photos = solid_photos(tmp_path / "photos")
    return TrainingRequest(
        job_id="direct",
        name="golden",
        trigger_word="zxq",
        dataset=[DatasetItem(p, "a photo of zxq") for p in photos],
        base=ModelRef(id="tiny-flux", family="flux", source="tiny:flux", local_path=path),
        params=TrainingParams(
            **(
                {
                    "steps": 20,
                    "rank": 4,
                    "alpha": 4,
                    "learning_rate": 1e-2,
                    "resolution": 64,
                    "save_every": 2,
                    "sample_every": 0,
                    "mixed_precision": "fp32",
                    "gradient_checkpointing": False,
                    "caption_dropout": 0.0,
                    "seed": 42,
                }
                | params
            )
        ),
        output_dir=tmp_path / "run",
    )


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(
    tmp_path, tiny_models, monkeypatch
):
    import torch

    from plugins.training.diffusers_trainer.families import FluxFamily

    real = FluxFamily.loss
    calls = {"n": 0}

    def poisoned(self, *args, **kwargs):
        calls["n"] += 1
        loss = real(self, *args, **kwargs)
        return loss * torch.tensor(float("nan")) if calls["n"] == 7 else loss

    monkeypatch.setattr(FluxFamily, "loss", poisoned)
    request = _request(tmp_path, tiny_models)
    with pytest.raises(PluginError, match="step 7: the loss became nan") as err:
        DiffusersTrainer(PluginSettings(mode="production")).run(request, SimpleRunContext())
    assert err.value.code == "nan"
    assert (request.output_dir / "golden_000000006.safetensors").exists()
    assert not (request.output_dir / "golden.safetensors").exists()


def test_golden_loss_curve(tmp_path, tiny_models):
    """A fixed-seed tiny run's losses. A change to training internals shows up here: bump
    DiffusersTrainer.version, re-record with `python -m tests.golden.record`, and note before/after."""
    request = _request(tmp_path, tiny_models, save_every=1000)
    result = DiffusersTrainer(PluginSettings(mode="production")).run(request, SimpleRunContext())
    losses = [float(v) for v in result.metadata["losses"].split(",")]
    golden = json.loads(GOLDEN.read_text())
    assert golden["plugin_version"] == DiffusersTrainer.version, "re-record the golden curve for this version"
    assert losses == pytest.approx(golden["losses"], rel=2e-3, abs=1e-4)


def test_training_is_reproducible_from_its_seed(tmp_path, tiny_models):
    first = DiffusersTrainer(PluginSettings(mode="production")).run(
        _request(tmp_path / "a", tiny_models, steps=8, save_every=1000), SimpleRunContext()
    )
    second = DiffusersTrainer(PluginSettings(mode="production")).run(
        _request(tmp_path / "b", tiny_models, steps=8, save_every=1000), SimpleRunContext()
    )
    assert first.metadata["losses"] == second.metadata["losses"]


def test_threads_can_cancel_a_direct_run(tmp_path, tiny_models):
    """Another thread cancels once training runs (not on a timer: on a busy machine loading alone can
    take longer than any fixed delay, and a cancel during loading rightly keeps no checkpoint)."""
    ctx = SimpleRunContext()
    request = _request(tmp_path, tiny_models, steps=3000, save_every=1000)
    report = ctx.progress

    def progress(**fields):
        report(**fields)
        if fields.get("step", 0) >= 3 and fields.get("phase", "training") == "training":
            threading.Thread(target=ctx.cancel).start()

    ctx.progress = progress
    from plugins.base import Cancelled

    with pytest.raises(Cancelled, match="saved a checkpoint there"):
        DiffusersTrainer(PluginSettings(mode="production")).run(request, ctx)


def test_gpu_only_options_are_refused_on_the_cpu_with_a_reason(tmp_path, tiny_models):
    for option, message in (
        ({"optimizer": "adamw8bit"}, "8-bit AdamW needs an NVIDIA GPU"),
        ({"quantize_base": True}, "4-bit base (QLoRA) needs an NVIDIA GPU"),
    ):
        with pytest.raises(PluginError, match=re.escape(message)):
            DiffusersTrainer(PluginSettings(mode="production")).run(
                _request(tmp_path, tiny_models, **option), SimpleRunContext()
            )


def test_prodigy_and_a_warm_up_schedule_train(tmp_path, tiny_models):
    ctx = SimpleRunContext()
    result = DiffusersTrainer(PluginSettings(mode="production")).run(
        _request(
            tmp_path,
            tiny_models,
            steps=8,
            save_every=1000,
            optimizer="prodigy",
            lr_scheduler="cosine",
            warmup_steps=3,
        ),
        ctx,
    )
    assert result.steps == 8
    rates = [e["lr"] for e in ctx.events if "lr" in e]
    assert rates[0] < rates[2] and rates[-1] < rates[3]  # warm-up, then the cosine decay
