"""The architecture facts the memory model reads: `configs/architecture_memory.json`, measured on the
real full-size architectures built on the meta device by the built-in trainer's own code
(`python -m plugins.training.diffusers_trainer.memory_facts`; a test re-measures and compares)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from isengard.settings import PROJECT_ROOT

FACTS_FILE = PROJECT_ROOT / "configs" / "architecture_memory.json"
MEASURED_AT = (512, 1024)  # the resolutions the activations were measured at


@dataclass(frozen=True)
class Activations:
    """Bytes a training step keeps for its backward pass (bf16, batch 1, a rank-16 LoRA)."""

    saved: int  # without gradient checkpointing
    saved_checkpointed: int  # with it: what the checkpoints keep
    largest_unit: int  # with it: what one checkpointed block keeps while it is recomputed


@dataclass(frozen=True)
class ArchitectureFacts:
    family: str
    denoiser_params: int
    linear_params: int  # of the denoiser: what a 4-bit or 8-bit base quantises
    lora_params_per_rank: int
    text_tokens: int
    activations: dict[int, Activations]
    text_encoder_params: dict[str, int]
    vae_params: int

    def activations_at(self, resolution: int) -> Activations:
        """At any resolution: the measured two, along the image's pixel count (tokens grow with it; the
        text's share stays), which is how attention kernels that keep no attention matrix behave."""
        lo, hi = (self.activations[r] for r in MEASURED_AT)
        t = (resolution**2 - MEASURED_AT[0] ** 2) / (MEASURED_AT[1] ** 2 - MEASURED_AT[0] ** 2)

        def along(a: int, b: int) -> int:
            return max(0, round(a + (b - a) * t))

        return Activations(
            along(lo.saved, hi.saved),
            along(lo.saved_checkpointed, hi.saved_checkpointed),
            along(lo.largest_unit, hi.largest_unit),
        )


@functools.cache
def all_facts() -> dict[str, ArchitectureFacts]:
    raw = json.loads(FACTS_FILE.read_text(encoding="utf-8"))
    out = {}
    for family, entry in raw.items():
        denoiser = entry["denoiser"]
        out[family] = ArchitectureFacts(
            family=family,
            denoiser_params=denoiser["params"],
            linear_params=denoiser["linear_params"],
            lora_params_per_rank=denoiser["lora_params_per_rank"],
            text_tokens=denoiser["text_tokens"],
            activations={
                int(r): Activations(a["saved"], a["saved_checkpointed"], a["largest_unit"])
                for r, a in denoiser["activations_bf16_batch1_rank16"].items()
            },
            text_encoder_params=dict(entry["text_encoders"]),
            vae_params=entry["vae"],
        )
    return out


def facts_for(family: str) -> ArchitectureFacts | None:
    return all_facts().get(family)
