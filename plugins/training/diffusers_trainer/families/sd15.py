"""SD 1.5: DDPM noise, epsilon or v-prediction, one CLIP text encoder, no safety checker while training."""

from __future__ import annotations

import copy

from plugins.training.diffusers_trainer.families.base import Encoded
from plugins.training.diffusers_trainer.families.unet import UNetFamily


class SD15Family(UNetFamily):
    name = "sd15"

    def pipeline_class(self):
        from diffusers import StableDiffusionPipeline

        return StableDiffusionPipeline

    def adopt(self, pipe, path, dtype):
        loaded = super().adopt(pipe, path, dtype)
        loaded.pipe.safety_checker = None
        return loaded

    def encode_prompts(self, loaded, prompts, device):
        import torch

        out = []
        with torch.no_grad():
            for prompt in prompts:
                embeds, _ = loaded.pipe.encode_prompt(prompt, device, 1, False)
                out.append(Encoded({"prompt_embeds": embeds.cpu()}))
        return out

    def sample(self, loaded, text, negative, *, seed, steps, size, guidance):
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline(
            vae=loaded.pipe.vae,
            text_encoder=None,
            tokenizer=None,
            unet=loaded.model,
            scheduler=copy.deepcopy(loaded.pipe.scheduler),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        device, dtype = loaded.model.device, loaded.model.dtype
        return self._run_sampler(
            pipe,
            seed=seed,
            steps=steps,
            size=size,
            guidance=guidance,
            prompt_embeds=text.tensors["prompt_embeds"].to(device, dtype),
            negative_prompt_embeds=negative.tensors["prompt_embeds"].to(device, dtype),
        )
