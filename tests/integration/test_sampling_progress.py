"""The status tells the truth while samples are made: "Making samples (i of n)", and Cancel between them."""

from __future__ import annotations

import pytest

from plugins.base import Cancelled, PluginSettings, SimpleRunContext
from plugins.training.diffusers_trainer import DiffusersTrainer
from tests.integration.test_training_control import _request

pytestmark = pytest.mark.slow


def _messages(events):
    return [(e.get("phase"), e.get("message"), e.get("step")) for e in events if e.get("message")]


def test_before_during_and_final_samples_each_say_so(tmp_path, tiny_models):
    ctx = SimpleRunContext()
    request = _request(tmp_path, tiny_models, steps=6, sample_every=3, sample_steps=2, save_every=100)
    request.sample_prompts = ["a photo of zxq", "a portrait of zxq"]
    DiffusersTrainer(PluginSettings(mode="production")).run(request, ctx)
    said = _messages(ctx.events)
    sampling = [m for m in said if m[0] == "sampling"]
    assert [m[1] for m in sampling] == ["Making samples (1 of 2)", "Making samples (2 of 2)"] * 3
    first_loss = next(i for i, e in enumerate(ctx.events) if "loss" in e)
    first_sample = next(i for i, e in enumerate(ctx.events) if e.get("phase") == "sampling")
    assert first_sample < first_loss  # the "before" samples are not hidden under "Reading the photos"
    assert [e["sample_step"] for e in ctx.events if e.get("message") == "Making samples (1 of 2)"] == [
        0,
        3,
        6,
    ]
    after = [m[1] for m in said if m[0] == "training"]
    assert "Training" in after and after[-1] == "Saving the LoRA"  # not "step 6/6, 2 s left" while sampling


def test_cancel_is_honoured_between_samples(tmp_path, tiny_models):
    class CancelAtFirstSample(SimpleRunContext):
        def progress(self, **fields):
            super().progress(**fields)
            if fields.get("message") == "Making samples (1 of 2)":
                self.cancel()

    ctx = CancelAtFirstSample()
    request = _request(tmp_path, tiny_models, steps=6, sample_every=3, sample_steps=2, save_every=100)
    request.sample_prompts = ["a photo of zxq", "a portrait of zxq"]
    with pytest.raises(Cancelled, match="no checkpoint was saved yet"):
        DiffusersTrainer(PluginSettings(mode="production")).run(request, ctx)
    assert [e["message"] for e in ctx.events if e.get("phase") == "sampling" and e.get("message")] == [
        "Making samples (1 of 2)"
    ]  # the second sample was never started
