"""Contract: every training backend, run on a small request, behaves the same way."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

from plugins.base import Availability, Cancelled, SimpleRunContext
from plugins.lora_format import read_lora_info
from plugins.training.interface import DatasetItem, TrainingBackend, TrainingParams, TrainingRequest
from tests.contract.plugins_under_test import factories, tiny_base

CASES = factories("training")


def _request(tmp_path, base, *, steps=6, resume=False) -> TrainingRequest:
    photos = tmp_path / "photos"
    photos.mkdir(exist_ok=True)
    items = []
    for i, colour in enumerate([(200, 30, 30), (30, 200, 30)]):
        path = photos / f"p{i}.png"
        Image.new("RGB", (64, 64), colour).save(path)
        items.append(DatasetItem(path, f"a photo of zxq person {i}"))
    return TrainingRequest(
        job_id="contract",
        name="contract_lora",
        trigger_word="zxq",
        dataset=items,
        base=base,
        params=TrainingParams(
            steps=steps,
            rank=4,
            alpha=4,
            resolution=64,
            save_every=3,
            sample_every=3,
            sample_steps=2,
            mixed_precision="fp32",
            gradient_checkpointing=False,
        ),
        output_dir=tmp_path / "run",
        sample_prompts=["a photo of zxq"],
        resume=resume,
    )


@pytest.fixture(params=CASES, ids=[name for name, _ in CASES])
def backend(request, tmp_path, tiny_models):
    plugin, family = request.param[1](tmp_path, tiny_models)
    return plugin, tiny_base(family, tiny_models)


def test_identity_and_availability(backend):
    plugin, _ = backend
    assert isinstance(plugin, TrainingBackend)
    assert plugin.kind == "training" and plugin.name and plugin.version
    avail = plugin.availability()
    assert isinstance(avail, Availability) and avail.reason


def test_trains_and_writes_a_loadable_lora(backend, tmp_path):
    plugin, base = backend
    ctx = SimpleRunContext()
    result = plugin.run(_request(tmp_path, base), ctx)
    assert result.lora_path.exists() and result.steps == 6
    info = read_lora_info(result.lora_path)
    assert info.family == base.family
    assert info.key_format == ("peft" if base.family == "flux" else "kohya")
    assert info.trigger_word == "zxq"
    steps = [e["step"] for e in ctx.events if "step" in e]
    assert steps == sorted(steps) and steps[-1] == 6
    assert any(e.get("loss") is not None for e in ctx.events)
    assert any(e.get("checkpoint") for e in ctx.events)
    assert any(e.get("samples") for e in ctx.events)


def test_cancel_stops_quickly_and_keeps_checkpoints(backend, tmp_path):
    plugin, base = backend
    ctx = SimpleRunContext()

    def cancel_after_checkpoint():
        while not any(e.get("checkpoint") for e in ctx.events):
            threading.Event().wait(0.005)
        ctx.cancel()

    threading.Thread(target=cancel_after_checkpoint, daemon=True).start()
    request = _request(tmp_path, base, steps=400)
    request.params.save_every = 2
    with pytest.raises(Cancelled):
        plugin.run(request, ctx)
    last_step = max(e["step"] for e in ctx.events if "step" in e)
    assert last_step < 400
    checkpoints = [Path(e["checkpoint"]) for e in ctx.events if e.get("checkpoint")]
    assert checkpoints and checkpoints[-1].exists()  # kept for Resume
    assert not list(request.output_dir.rglob("contract_lora.safetensors"))  # no final LoRA


def test_resume_continues_to_the_same_step_count(backend, tmp_path):
    plugin, base = backend
    first = SimpleRunContext()
    first_request = _request(tmp_path, base, steps=30)
    first_request.params.save_every = 3

    def stop_after_first_checkpoint():
        while not any(e.get("checkpoint") for e in first.events):
            threading.Event().wait(0.005)
        first.cancel()

    threading.Thread(target=stop_after_first_checkpoint, daemon=True).start()
    with pytest.raises(Cancelled):
        plugin.run(first_request, first)
    second = SimpleRunContext()
    result = plugin.run(_request(tmp_path, base, steps=30, resume=True), second)
    steps = [e["step"] for e in second.events if "step" in e]
    assert steps[0] >= 3 and steps[-1] == 30 == result.steps
