"""The switches a GPU trainer turns on, decided once per run and written into the LoRA's metadata and the log:

* TF32 matrix products on Ampere and newer (compute capability 8.0+): the fp32 LoRA's products run on the
  tensor cores with a 10-bit mantissa — what diffusers' `--allow_tf32` does; nothing changes on a CPU;
* the fused AdamW kernel on CUDA (one kernel for every parameter's update; the same arithmetic as the
  loop it replaces); PyTorch's own choice elsewhere;
* PyTorch's scaled-dot-product attention (flash / memory-efficient kernels) through diffusers' native
  attention backend — recorded as what diffusers will run;
* `torch.compile` of the denoiser's blocks, opt-in (`compile_blocks`) and on CUDA only: a minute of
  compiling for faster steps, measured by bench/gpu_check.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

METADATA_KEY = "isengard_gpu_switches"


@dataclass(frozen=True)
class Switches:
    tf32: bool
    optimizer_kernel: str  # fused (CUDA) | default (PyTorch's own pick) | own (Prodigy, 8-bit AdamW)
    attention: str  # what diffusers' attention dispatch runs ("native" is PyTorch's SDPA)
    compiled: bool
    why_not_compiled: str = ""

    def optimizer_kwargs(self) -> dict[str, Any]:
        return {"fused": True} if self.optimizer_kernel == "fused" else {}

    def metadata(self) -> dict[str, str]:
        return {METADATA_KEY: json.dumps(asdict(self), sort_keys=True)}

    def sentence(self) -> str:
        parts = [
            "TF32 on" if self.tf32 else "TF32 off",
            f"{self.optimizer_kernel} optimiser",
            f"{self.attention} attention",
            "compiled blocks" if self.compiled else f"blocks not compiled ({self.why_not_compiled or 'off'})",
        ]
        return ", ".join(parts)


def attention_backend() -> str:
    try:
        from diffusers.models.attention_dispatch import _AttentionBackendRegistry

        backend, _ = _AttentionBackendRegistry.get_active_backend()
        return str(getattr(backend, "value", backend))
    except (ImportError, AttributeError):  # an older diffusers: its processors call SDPA directly
        return "native"


def decide(device: str, params) -> Switches:
    import torch

    cuda = device.startswith("cuda") and torch.cuda.is_available()
    tf32 = cuda and torch.cuda.get_device_capability(device) >= (8, 0)
    kernel = ("fused" if cuda else "default") if params.optimizer == "adamw" else "own"
    wanted = bool(getattr(params, "compile_blocks", False))
    why = "" if cuda or not wanted else "needs an NVIDIA GPU"
    return Switches(tf32, kernel, attention_backend(), wanted and cuda, why)


def apply(switches: Switches, model) -> None:
    """Turn them on for this process (TF32) and this model (compiled blocks)."""
    import torch

    if switches.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if switches.compiled:
        compile_blocks(model)


def compile_blocks(model, **options) -> int:
    """Each block of the denoiser's block lists compiled in place (regional compilation: every block of a
    list has the same shape, so one compile serves them all); how many were compiled."""
    import torch

    count = 0
    for child in model.children():
        if isinstance(child, torch.nn.ModuleList):
            for block in child:
                block.compile(**options)
                count += 1
    return count
