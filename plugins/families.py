"""What every layer needs to know about a model family, in one table (no torch, no diffusers).

The trainer, the image backends, the LoRA reader and the UI each keep their own per-family code; the
facts they share — labels, size multiples, how guidance works, whether a negative prompt does anything,
the LoRA file layout — live here so the layers cannot disagree.

Guidance conventions (what the number the person sets means to the pipeline):
* ``embedded``: a distilled guidance input of the model (FLUX.1 [dev], FLUX.2 [dev]); no negative prompt.
* ``cfg``: classic classifier-free guidance, on above 1 (SD 1.5, SDXL, FLUX.2 [klein] base).
* ``cfg_offset``: ``cond + g·(cond − uncond)``, off at 0 (Z-Image; standard CFG of 1 + g).
* ``true_cfg``: Qwen-Image's ``true_cfg_scale`` with a negative prompt, on above 1.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FamilyInfo:
    name: str
    label: str  # what people call it
    model_attr: str  # the pipeline component a LoRA trains: "transformer" or "unet"
    size_multiple: int  # width and height must be multiples of this (pixels)
    guidance: str  # embedded | cfg | cfg_offset | true_cfg (see the module docstring)
    negative_prompt: bool  # whether a negative prompt changes anything
    lora_keys: str  # "peft" (transformer.<module>.lora_A/B) or "kohya" (lora_unet_…, lora_down/up, alpha)
    ss_base: str  # kohya's ss_base_model_version (Civitai / A1111 read it)
    modelspec: str  # modelspec.architecture
    text_encoder: str  # which text encoder reads the prompt (for the "prompt was cut" note)
    resolution: int = 1024
    steps: int = 28
    guidance_value: float = 3.5  # the pipeline's own default for the family
    sample_guidance: float = 3.5  # what the trainer's samples use
    low_vram_gb: float = 12  # below this, generation offloads to the CPU

    @property
    def guidance_off(self) -> float:
        """The guidance value that turns guidance off (no second, unconditional pass)."""
        return 0.0 if self.guidance == "cfg_offset" else 1.0


FAMILY_INFO: dict[str, FamilyInfo] = {
    info.name: info
    for info in (
        FamilyInfo(
            "flux", "FLUX.1", "transformer", 16, "embedded", False, "peft", "flux1", "flux-1-dev/lora",
            "T5", steps=28, guidance_value=3.5, sample_guidance=3.5, low_vram_gb=40,
        ),
        FamilyInfo(
            "sdxl", "SDXL", "unet", 8, "cfg", True, "kohya", "sdxl_base_v1-0",
            "stable-diffusion-xl-v1-base/lora", "CLIP", steps=30, guidance_value=6.0,
            sample_guidance=5.0, low_vram_gb=12,
        ),
        FamilyInfo(
            "sd15", "SD 1.5", "unet", 8, "cfg", True, "kohya", "sd_v1", "stable-diffusion-v1/lora", "CLIP",
            resolution=512, steps=30, guidance_value=7.0, sample_guidance=5.0, low_vram_gb=6,
        ),
        FamilyInfo(
            "flux2_klein", "FLUX.2 [klein]", "transformer", 16, "cfg", False, "peft", "flux2_klein",
            "flux-2-klein/lora", "Qwen3", steps=50, guidance_value=4.0, sample_guidance=4.0,
            low_vram_gb=16,
        ),
        FamilyInfo(
            "flux2", "FLUX.2 [dev]", "transformer", 16, "embedded", False, "peft", "flux2", "flux-2-dev/lora",
            "Mistral", steps=50, guidance_value=4.0, sample_guidance=4.0, low_vram_gb=80,
        ),
        FamilyInfo(
            "zimage", "Z-Image", "transformer", 16, "cfg_offset", True, "peft", "zimage", "z-image/lora",
            "Qwen3", steps=50, guidance_value=5.0, sample_guidance=3.0, low_vram_gb=24,
        ),
        FamilyInfo(
            "qwen_image", "Qwen-Image", "transformer", 16, "true_cfg", True, "peft", "qwen_image",
            "qwen-image/lora", "Qwen2.5-VL", steps=50, guidance_value=4.0, sample_guidance=4.0,
            low_vram_gb=48,
        ),
    )
}  # fmt: skip

FAMILIES = tuple(FAMILY_INFO)
FAMILY_LABELS = {name: info.label for name, info in FAMILY_INFO.items()}


def family_info(name: str) -> FamilyInfo:
    try:
        return FAMILY_INFO[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; expected one of {FAMILIES}") from None
