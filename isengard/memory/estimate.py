"""Peak GPU memory of a training or of a picture, from the architecture facts, part by part and phase by
phase, as the built-in trainer and the diffusers backend place things on the GPU.

Training runs three phases, and the peak is the largest:
* preparing: the photos are encoded by the VAE and the captions by the text encoders while the base is on
  the GPU (with Low-VRAM mode the text encoders run on the CPU and the VAE works in tiles);
* a training step: the base (bf16, or 4-bit NF4 for `quantize_base`), the VAE (kept for the samples), the
  LoRA in fp32 with its gradients and optimiser state, and the activations kept for the backward pass;
* sampling: the same without gradients, plus one denoising pass and the VAE's decode.
Every figure is in GB (10⁹ bytes), as GPU makers quote memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from isengard.memory.facts import ArchitectureFacts, facts_for

GB = 1e9
WEIGHT_BYTES = {
    "bf16": 2.0,
    "fp16": 2.0,
    "fp32": 4.0,
    "int8": 1.0,
    "nf4": 0.5 + 4 / 64,
}  # nf4: fp32 absmax / 64
# per trainable parameter: the fp32 parameter and its gradient, then the optimiser's state
OPTIMIZER_BYTES = {"adamw": 8.0, "adamw8bit": 2.0, "prodigy": 16.0}
RUNTIME_GB = 0.6  # the CUDA context, cuBLAS workspaces and the allocator's rounding
VAE_CHANNELS = 128  # the widest full-resolution feature map of every family's VAE
VAE_LIVE_MAPS = 3  # how many of those are alive at once in an encode or decode
VAE_TILE = 512  # the tile side of a tiled VAE
CFG_FAMILIES = {"sdxl", "sd15", "zimage", "qwen_image", "flux2_klein"}  # a second, unconditional pass


@dataclass(frozen=True)
class Phase:
    name: str  # preparing | training | sampling | generating
    parts: dict[str, float] = field(default_factory=dict)  # GB per part

    @property
    def gb(self) -> float:
        return round(sum(self.parts.values()), 2)


@dataclass(frozen=True)
class MemoryEstimate:
    family: str
    phases: tuple[Phase, ...]

    @property
    def peak(self) -> Phase:
        return max(self.phases, key=lambda p: p.gb)

    @property
    def peak_gb(self) -> float:
        return self.peak.gb

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)

    def fits(self, vram_gb: float | None) -> bool:
        return vram_gb is not None and self.peak_gb <= vram_gb * 0.97

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "peak_gb": self.peak_gb,
            "peak_phase": self.peak.name,
            "phases": {
                p.name: {"gb": p.gb, "parts": {k: round(v, 2) for k, v in p.parts.items()}}
                for p in self.phases
            },
        }


def _vae_work(resolution: int, tiled: bool) -> float:
    side = min(resolution, VAE_TILE) if tiled else resolution
    return VAE_LIVE_MAPS * VAE_CHANNELS * side * side * 2 / GB


def base_weights_gb(facts: ArchitectureFacts, weights: str) -> float:
    linear = facts.linear_params * WEIGHT_BYTES[weights]
    rest = (facts.denoiser_params - facts.linear_params) * 2.0  # norms, embeddings: bf16 whatever the base
    return (linear + rest) / GB


def training_memory(
    family: str, params: Any, *, weights: str | None = None, lora_bytes: float = 4.0
) -> MemoryEstimate | None:
    """`params`: TrainingParams (or anything with its fields). None for a family without facts.
    `weights` names another base format (int8, as other trainers offer); `lora_bytes` 2 for a LoRA kept in
    bf16 with a bf16 optimiser (other trainers' choice; the built-in trainer keeps it in fp32)."""
    facts = facts_for(family)
    if facts is None:
        return None
    weights = weights or (
        "nf4" if params.quantize_base else "fp32" if params.mixed_precision == "fp32" else "bf16"
    )
    base = base_weights_gb(facts, weights)
    vae = facts.vae_params * 2 / GB
    encoders = sum(facts.text_encoder_params.values()) * 2 / GB
    lora_params = facts.lora_params_per_rank * params.rank
    state = OPTIMIZER_BYTES.get(params.optimizer, 8.0) * (
        lora_bytes / 4 if params.optimizer == "adamw" else 1
    )
    lora_state = lora_params * (lora_bytes + state) / GB  # the LoRA's weights and its optimiser's state
    lora_grads = lora_params * lora_bytes / GB
    act = facts.activations_at(params.resolution)
    batch = max(1, params.batch_size)
    scale = 2.0 if weights == "fp32" else 1.0
    if params.gradient_checkpointing:
        kept = (act.saved_checkpointed * batch + act.largest_unit * batch) * scale / GB
    else:
        kept = act.saved * batch * scale / GB
    preparing = {"base": base, "vae": vae, "vae work": _vae_work(params.resolution, params.low_vram)}
    if not params.low_vram:  # else the captions are encoded on the CPU
        preparing["text encoders"] = encoders
    preparing["runtime"] = RUNTIME_GB
    training = {
        "base": base,
        "vae": vae,
        "lora and optimiser": lora_state,
        "gradients": lora_grads,
        "activations": kept,
        "runtime": RUNTIME_GB,
    }
    passes = 2 if family in CFG_FAMILIES else 1
    sampling = {
        "base": base,
        "vae": vae,
        "lora and optimiser": lora_state,
        "denoising": act.largest_unit * passes * scale / GB,
        "vae work": _vae_work(params.resolution, params.low_vram),
        "runtime": RUNTIME_GB,
    }
    return MemoryEstimate(
        family, (Phase("preparing", preparing), Phase("training", training), Phase("sampling", sampling))
    )


def generation_memory(
    family: str, *, width: int, height: int, count: int = 1, offload: bool = False, tiled_vae: bool = False
) -> MemoryEstimate | None:
    """A batch of `count` pictures: everything on the GPU, or with model offload (one part at a time)."""
    facts = facts_for(family)
    if facts is None:
        return None
    side = int((width * height) ** 0.5)
    act = facts.activations_at(side)
    passes = 2 if family in CFG_FAMILIES else 1
    base = base_weights_gb(facts, "bf16")
    encoders = sum(facts.text_encoder_params.values()) * 2 / GB
    denoising = act.largest_unit * count * passes / GB
    vae_work = _vae_work(side, tiled_vae) * (1 if tiled_vae else count)
    if offload:  # one component on the GPU at a time: the largest turn is the peak
        parts = {"largest part": max(base + denoising, encoders, facts.vae_params * 2 / GB + vae_work)}
    else:
        parts = {"base": base, "text encoders": encoders, "vae": facts.vae_params * 2 / GB}
        parts |= {"denoising": denoising, "vae work": vae_work}
    parts["runtime"] = RUNTIME_GB
    return MemoryEstimate(family, (Phase("generating", parts),))


@dataclass(frozen=True)
class StepDown:
    """One change that makes a training lighter, and what it costs in words."""

    overrides: dict[str, Any]
    sentence: str  # "continuing at 768 px"
    keeps_quality: bool


def lighter(family: str, params: Any, *, cuda: bool, phase: str | None = None) -> list[StepDown]:
    """The changes that would lower the peak (of `phase` when the failing phase is known), best first:
    those that keep the LoRA's quality (gradient checkpointing, 8-bit optimiser, captions on the CPU),
    then those that cost some (4-bit base, smaller pictures, one picture per step), each group by how
    much it saves. A change that saves under 2 % is left out."""
    now = training_memory(family, params)
    options: list[StepDown] = []
    if not params.gradient_checkpointing:
        options.append(StepDown({"gradient_checkpointing": True}, "with gradient checkpointing", True))
    if cuda and params.optimizer == "adamw":
        options.append(StepDown({"optimizer": "adamw8bit"}, "with the 8-bit optimiser", True))
    if not params.low_vram:
        options.append(StepDown({"low_vram": True}, "in Low-VRAM mode", True))
    if cuda and not params.quantize_base:
        options.append(StepDown({"quantize_base": True}, "with a 4-bit base", False))
    smaller = [r for r in (768, 512, 384, 256) if r < params.resolution]
    if smaller:
        options.append(StepDown({"resolution": smaller[0]}, f"at {smaller[0]} px", False))
    if params.batch_size > 1:
        options.append(StepDown({"batch_size": 1}, "one picture per step", False))
    if now is None:
        return options

    def peak(option: StepDown) -> float:
        after = training_memory(family, replace(params, **option.overrides))
        which = after.phase(phase) if phase else after.peak
        return which.gb if which else after.peak_gb

    before = now.phase(phase).gb if phase and now.phase(phase) else now.peak_gb
    useful = [o for o in options if peak(o) < before * 0.98]
    return sorted(useful, key=lambda o: (not o.keeps_quality, peak(o)))
