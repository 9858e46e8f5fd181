"""SDXL: DDPM noise, epsilon or v-prediction, two text encoders, `add_time_ids` size conditioning."""

from __future__ import annotations

import copy

from plugins.training.diffusers_trainer.families.base import Encoded, stack
from plugins.training.diffusers_trainer.families.unet import UNetFamily


class SDXLFamily(UNetFamily):
    name = "sdxl"

    def pipeline_class(self):
        from diffusers import StableDiffusionXLPipeline

        return StableDiffusionXLPipeline

    def encode_prompts(self, loaded, prompts, device):
        import torch

        out = []
        with torch.no_grad():
            for prompt in prompts:
                embeds, _, pooled, _ = loaded.pipe.encode_prompt(
                    prompt=prompt, device=device, num_images_per_prompt=1, do_classifier_free_guidance=False
                )
                out.append(Encoded({"prompt_embeds": embeds.cpu(), "pooled": pooled.cpu()}))
        return out

    def _added_cond(self, loaded, texts, items, device):
        import torch

        time_ids = torch.tensor(
            [[*it.original_size, *it.crop_top_left, it.bucket[1], it.bucket[0]] for it in items],
            device=device,
            dtype=loaded.dtype,
        )
        text_embeds = stack(texts, "pooled", device, loaded.dtype)
        return {"added_cond_kwargs": {"time_ids": time_ids, "text_embeds": text_embeds}}

    def sample(self, loaded, text, negative, *, seed, steps, size, guidance):
        import torch
        from diffusers import StableDiffusionXLPipeline

        pipe = StableDiffusionXLPipeline(
            vae=loaded.pipe.vae,
            text_encoder=None,
            text_encoder_2=None,
            tokenizer=None,
            tokenizer_2=None,
            unet=loaded.model,
            scheduler=copy.deepcopy(loaded.pipe.scheduler),
        )
        device, dtype = loaded.model.device, loaded.model.dtype
        negative_embeds, negative_pooled = negative.tensors["prompt_embeds"], negative.tensors["pooled"]
        if loaded.pipe.config.force_zeros_for_empty_prompt:  # what the pipeline itself does for no negative
            negative_embeds, negative_pooled = (
                torch.zeros_like(negative_embeds),
                torch.zeros_like(negative_pooled),
            )
        return self._run_sampler(
            pipe,
            seed=seed,
            steps=steps,
            size=size,
            guidance=guidance,
            prompt_embeds=text.tensors["prompt_embeds"].to(device, dtype),
            pooled_prompt_embeds=text.tensors["pooled"].to(device, dtype),
            negative_prompt_embeds=negative_embeds.to(device, dtype),
            negative_pooled_prompt_embeds=negative_pooled.to(device, dtype),
        )
