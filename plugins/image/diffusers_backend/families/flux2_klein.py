"""FLUX.2 [klein]: real CFG above 1 against an empty prompt (the distilled 4-step model ignores it), Qwen3 reads
the prompt; latents are 2×2-patchified tokens normalised by the VAE's batch-norm statistics."""

from __future__ import annotations

from plugins.image.diffusers_backend.families.base import Recipe


class Flux2KleinRecipe(Recipe):
    family = "flux2_klein"
    pipeline = "Flux2KleinPipeline"

    def call_kwargs(self, request, tiny):
        kwargs = super().call_kwargs(request, tiny)
        kwargs["max_sequence_length"] = int(tiny.get("t5_max_length", 512))
        return kwargs

    def preview_latents(self, pipe, request, latents):
        import torch

        vae = pipe.vae
        factor = pipe.vae_scale_factor * 2
        height, width = request.height // factor, request.width // factor
        batch, _, channels = latents.shape
        patched = latents.reshape(batch, height, width, channels).permute(0, 3, 1, 2)
        mean = vae.bn.running_mean.view(1, -1, 1, 1).to(patched)
        std = torch.sqrt(vae.bn.running_var.view(1, -1, 1, 1) + vae.config.batch_norm_eps).to(patched)
        return pipe._unpatchify_latents(patched * std + mean)


class Flux2DevRecipe(Flux2KleinRecipe):
    """FLUX.2 [dev]: guidance distilled into the model (no negative prompt), Mistral-Small 3 reads the
    prompt; latents as [klein]'s."""

    family = "flux2"
    pipeline = "Flux2Pipeline"
