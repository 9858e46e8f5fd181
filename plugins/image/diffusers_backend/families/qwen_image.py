"""Qwen-Image: `true_cfg_scale` with a negative prompt (guidance_scale does nothing), Qwen2.5-VL reads the
prompt; latents come from a video VAE (one frame) and are normalised per channel."""

from __future__ import annotations

from plugins.image.diffusers_backend.families.base import Recipe


class QwenImageRecipe(Recipe):
    family = "qwen_image"
    pipeline = "QwenImagePipeline"

    def call_kwargs(self, request, tiny):
        kwargs = {
            "prompt": request.prompt,
            "true_cfg_scale": request.guidance,
            "max_sequence_length": int(tiny.get("t5_max_length", 512)),
        }
        if request.guidance > 1:
            # true CFG runs only with a negative prompt; an empty one is what Qwen's own examples use
            kwargs["negative_prompt"] = request.negative_prompt or " "
        return kwargs

    def preview_latents(self, pipe, request, latents):
        import torch

        vae = pipe.vae
        latents = pipe._unpack_latents(latents, request.height, request.width, pipe.vae_scale_factor)
        mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1).to(latents)
        std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1).to(latents)
        return (latents * std + mean)[:, :, 0]
