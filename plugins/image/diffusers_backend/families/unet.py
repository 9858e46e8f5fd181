"""SDXL and SD 1.5: classic CFG with a negative prompt, CLIP reads the prompt, any sampler."""

from __future__ import annotations

from plugins.image.diffusers_backend.families.base import Recipe


class UNetRecipe(Recipe):
    flow_matching = False

    def prompt_tokenizer(self, pipe, tiny):
        return pipe.tokenizer, pipe.tokenizer.model_max_length

    def preview_latents(self, pipe, request, latents):
        return latents / pipe.vae.config.scaling_factor


class SDXLRecipe(UNetRecipe):
    family = "sdxl"
    pipeline = "StableDiffusionXLPipeline"


class SD15Recipe(UNetRecipe):
    family = "sd15"
    pipeline = "StableDiffusionPipeline"

    def load_kwargs(self):
        return {"safety_checker": None, "requires_safety_checker": False}

    def adopt(self, pipe):
        pipe.safety_checker = None
