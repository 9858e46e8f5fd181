"""What the image backend needs from each family: which pipeline, the call's family-specific arguments,
the prompt's token limit, and the latent → VAE-latent step for live previews. One module per family."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from plugins.families import FamilyInfo, family_info


class Recipe(ABC):
    family: str = ""
    pipeline: str = ""  # the diffusers pipeline class
    flow_matching: bool = True  # flow-matching models keep their own sampler

    @property
    def info(self) -> FamilyInfo:
        return family_info(self.family)

    def load_kwargs(self) -> dict[str, Any]:
        return {}

    def adopt(self, pipe) -> None:
        """Make a pipeline handed over by the trainer ready as a fresh load is."""
        return None

    def call_kwargs(self, request, tiny: dict[str, Any]) -> dict[str, Any]:
        """Prompt, guidance and negative prompt in the form this family's pipeline takes them."""
        kwargs: dict[str, Any] = {"prompt": request.prompt, "guidance_scale": request.guidance}
        if self.info.negative_prompt and request.negative_prompt:
            kwargs["negative_prompt"] = request.negative_prompt
        return kwargs

    def prompt_tokenizer(self, pipe, tiny: dict[str, Any]):
        """(tokenizer, how many tokens it reads) for the "your prompt was cut" note."""
        return pipe.tokenizer, int(tiny.get("t5_max_length", 512))

    @abstractmethod
    def preview_latents(self, pipe, request, latents):
        """The pipeline's latents during sampling as raw VAE latents (B, C, h, w)."""


def tiny_marker(path) -> dict[str, Any]:
    marker = Path(path) / "isengard_tiny.json"
    return json.loads(marker.read_text()) if marker.exists() else {}
