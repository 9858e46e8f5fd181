"""FLUX.1: embedded guidance (no negative prompt), T5 reads the prompt, packed 2×2 latents."""

from __future__ import annotations

from plugins.image.diffusers_backend.families.base import Recipe


class FluxRecipe(Recipe):
    family = "flux"
    pipeline = "FluxPipeline"

    def call_kwargs(self, request, tiny):
        kwargs = super().call_kwargs(request, tiny)
        kwargs["max_sequence_length"] = int(tiny.get("t5_max_length", 512))
        return kwargs

    def prompt_tokenizer(self, pipe, tiny):
        return pipe.tokenizer_2, int(tiny.get("t5_max_length", 512))

    def preview_latents(self, pipe, request, latents):
        vae = pipe.vae
        latents = pipe._unpack_latents(latents, request.height, request.width, pipe.vae_scale_factor)
        return latents / vae.config.scaling_factor + (vae.config.shift_factor or 0.0)
