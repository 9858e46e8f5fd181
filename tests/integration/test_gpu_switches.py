"""The GPU switches of the built-in trainer (TF32, fused AdamW, SDPA attention, compiled blocks): decided per
run from the device, written into the LoRA's metadata and the log, and — where they must not — changing
nothing in the training result. Without a GPU the CUDA side is a test double (torch.cuda's answers
replaced); the arithmetic claims are checked by running the tiny trainer with each switch forced on."""

from __future__ import annotations

import functools
import json
from dataclasses import replace

import pytest
import torch
from safetensors import safe_open

from plugins.base import ModelRef, PluginSettings, SimpleRunContext
from plugins.training.diffusers_trainer import DiffusersTrainer, gpu_switches
from plugins.training.interface import DatasetItem, TrainingParams, TrainingRequest
from tests.helpers import install_tiny, solid_photos

pytestmark = pytest.mark.slow


def request(tmp_path, tiny_models, **params) -> TrainingRequest:
    path = install_tiny(tmp_path / "data", "flux", tiny_models)
    photos = solid_photos(tmp_path / "photos")
    base = {"steps": 8, "rank": 4, "alpha": 4, "learning_rate": 1e-2, "resolution": 64, "save_every": 1000,
            "sample_every": 0, "mixed_precision": "fp32", "gradient_checkpointing": False, "seed": 42}  # fmt: skip
    return TrainingRequest(
        job_id="switches",
        name="switches",
        trigger_word="zxq",
        dataset=[DatasetItem(p, "a photo of zxq") for p in photos],
        base=ModelRef(id="tiny-flux", family="flux", source="tiny:flux", local_path=path),
        params=TrainingParams(**(base | params)),
        output_dir=tmp_path / "run",
    )


def train(req):
    result = DiffusersTrainer(PluginSettings(mode="production")).run(req, SimpleRunContext())
    return [float(v) for v in result.metadata["losses"].split(",")], result


def test_the_switches_follow_the_device():
    params = TrainingParams(optimizer="adamw", compile_blocks=True)
    cpu = gpu_switches.decide("cpu", params)
    assert not cpu.tf32 and cpu.optimizer_kernel == "default" and not cpu.compiled
    assert cpu.why_not_compiled == "needs an NVIDIA GPU" and cpu.attention == "native"
    assert gpu_switches.decide("cpu", TrainingParams(optimizer="prodigy")).optimizer_kernel == "own"


@pytest.mark.parametrize(("capability", "tf32"), [((8, 0), True), ((9, 0), True), ((7, 5), False)])
def test_on_cuda_tf32_comes_with_ampere_and_adamw_is_fused(monkeypatch, capability, tf32):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # test double: a GPU of this capability
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    switches = gpu_switches.decide("cuda:1", TrainingParams(optimizer="adamw", compile_blocks=True))
    assert switches.tf32 is tf32 and switches.optimizer_kernel == "fused" and switches.compiled
    assert switches.optimizer_kwargs() == {"fused": True}
    assert not gpu_switches.decide("cuda:0", TrainingParams()).compiled  # compiling is opt-in


def test_the_switches_are_in_the_lora_metadata(tmp_path, tiny_models):
    _, result = train(request(tmp_path, tiny_models))
    assert recorded(result) == {"tf32": False, "optimizer_kernel": "default", "attention": "native", "compiled": False,
                        "why_not_compiled": ""}  # fmt: skip


def forced(monkeypatch, **switches):
    """A test double of the decision: the switches named are on whatever the device."""
    decide = gpu_switches.decide
    monkeypatch.setattr(
        gpu_switches, "decide", lambda device, params: replace(decide(device, params), **switches)
    )


def recorded(result) -> dict:
    with safe_open(str(result.lora_path), framework="pt") as f:
        return json.loads(f.metadata()[gpu_switches.METADATA_KEY])


def test_fused_adamw_and_tf32_leave_the_losses_as_they_were(tmp_path, tiny_models, monkeypatch):
    plain, _ = train(request(tmp_path / "plain", tiny_models))
    forced(monkeypatch, optimizer_kernel="fused", tf32=True)  # fused AdamW runs on a CPU too
    try:
        switched, result = train(request(tmp_path / "switched", tiny_models))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = True  # PyTorch's default
    assert switched == pytest.approx(plain, rel=1e-5, abs=1e-7)
    assert recorded(result)["optimizer_kernel"] == "fused" and recorded(result)["tf32"] is True


def test_compiled_blocks_leave_the_losses_as_they_were(tmp_path, tiny_models, monkeypatch):
    """Regional compilation of the denoiser's blocks, here through the AOT-eager backend (the same graph
    capture as on a GPU, without a C compiler): the same losses."""
    plain, _ = train(request(tmp_path / "plain", tiny_models, steps=4))
    forced(monkeypatch, compiled=True)
    monkeypatch.setattr(
        gpu_switches, "compile_blocks", functools.partial(gpu_switches.compile_blocks, backend="aot_eager")
    )
    counted = []
    original = torch.nn.Module.compile

    def counting(self, *args, **kwargs):
        counted.append(type(self).__name__)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "compile", counting)
    try:
        compiled, _ = train(request(tmp_path / "compiled", tiny_models, steps=4))
    finally:
        torch._dynamo.reset()
    assert counted  # every block of the transformer's block lists
    assert compiled == pytest.approx(plain, rel=1e-4, abs=1e-6)
