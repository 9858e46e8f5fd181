"""Z-Image (and Turbo): guidance is an offset (0 turns it off, as Turbo wants), a negative prompt only
matters with guidance on, Qwen3 reads the prompt; FLUX.1-style scaled and shifted latents."""

from __future__ import annotations

from plugins.image.diffusers_backend.families.base import Recipe


class ZImageRecipe(Recipe):
    family = "zimage"
    pipeline = "ZImagePipeline"

    def call_kwargs(self, request, tiny):
        kwargs = super().call_kwargs(request, tiny)
        kwargs["max_sequence_length"] = int(tiny.get("t5_max_length", 512))
        if request.guidance <= 0:
            kwargs.pop("negative_prompt", None)
        return kwargs

    def preview_latents(self, pipe, request, latents):
        vae = pipe.vae
        return latents / vae.config.scaling_factor + (vae.config.shift_factor or 0.0)
