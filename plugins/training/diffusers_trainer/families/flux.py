"""FLUX.1: flow matching (x_t = (1-σ)x + σ·noise, target noise - x), logit-normal σ, guidance embedding,
packed latents with image ids, CLIP pooled + T5 text conditioning."""

from __future__ import annotations

import copy

from plugins.training.diffusers_trainer.families.base import Encoded, Family, flow_noise, stack

FLUX_TARGETS = [
    "attn.to_k", "attn.to_q", "attn.to_v", "attn.to_out.0",
    "attn.add_k_proj", "attn.add_q_proj", "attn.add_v_proj", "attn.to_add_out",
    "ff.net.0.proj", "ff.net.2", "ff_context.net.0.proj", "ff_context.net.2",
    "proj_mlp", "proj_out",
]  # fmt: skip


class FluxFamily(Family):
    name = "flux"
    model_attr = "transformer"

    def pipeline_class(self):
        from diffusers import FluxPipeline

        return FluxPipeline

    @staticmethod
    def _model_class():
        from diffusers import FluxTransformer2DModel

        return FluxTransformer2DModel

    def target_modules(self, train_conv: bool) -> list[str]:
        return ["x_embedder", *FLUX_TARGETS]

    def encode_prompts(self, loaded, prompts, device):
        import torch

        pipe = loaded.pipe
        out = []
        with torch.no_grad():
            for prompt in prompts:
                embeds, pooled, _ = pipe.encode_prompt(
                    prompt=prompt,
                    prompt_2=None,
                    device=device,
                    num_images_per_prompt=1,
                    max_sequence_length=self.text_max_length(loaded),
                )
                out.append(Encoded({"prompt_embeds": embeds.cpu(), "pooled": pooled.cpu()}))
        return out

    def encode_latents(self, loaded, pixels, generator):
        import torch

        vae = loaded.pipe.vae
        with torch.no_grad():
            dist = vae.encode(pixels.unsqueeze(0).to(vae.device, vae.dtype)).latent_dist
            latents = dist.sample(generator=generator)
        shift = vae.config.shift_factor or 0.0
        return ((latents - shift) * vae.config.scaling_factor).float().cpu()[0]

    def loss(self, loaded, latents, texts, items, generator, params):
        import torch
        from diffusers import FluxPipeline

        model = loaded.model
        device, dtype = latents.device, loaded.dtype
        batch, channels, height, width = latents.shape
        noisy, sigmas, noise = flow_noise(latents, generator)
        packed = FluxPipeline._pack_latents(noisy.to(dtype), batch, channels, height, width)
        img_ids = FluxPipeline._prepare_latent_image_ids(batch, height // 2, width // 2, device, dtype)
        prompt_embeds = stack(texts, "prompt_embeds", device, dtype)
        txt_ids = torch.zeros(prompt_embeds.shape[1], 3, device=device, dtype=dtype)
        guidance = (
            torch.full((batch,), float(params.guidance), device=device, dtype=torch.float32)
            if model.config.guidance_embeds
            else None
        )
        pred = model(
            hidden_states=packed,
            timestep=sigmas.to(dtype),
            guidance=guidance,
            pooled_projections=stack(texts, "pooled", device, dtype),
            encoder_hidden_states=prompt_embeds,
            txt_ids=txt_ids,
            img_ids=img_ids,
            return_dict=False,
        )[0]
        factor = loaded.vae_scale_factor
        pred = FluxPipeline._unpack_latents(pred, height * factor, width * factor, factor)
        return torch.nn.functional.mse_loss(pred.float(), (noise - latents).float())

    def sample(self, loaded, text, negative, *, seed, steps, size, guidance):
        from diffusers import FluxPipeline

        pipe = FluxPipeline(
            scheduler=copy.deepcopy(loaded.pipe.scheduler),
            vae=loaded.pipe.vae,
            text_encoder=None,
            tokenizer=None,
            text_encoder_2=None,
            tokenizer_2=None,
            transformer=loaded.model,
        )
        dtype = loaded.model.dtype
        device = loaded.model.device
        return self._run_sampler(
            pipe,
            seed=seed,
            steps=steps,
            size=size,
            guidance=guidance,
            prompt_embeds=text.tensors["prompt_embeds"].to(device, dtype),
            pooled_prompt_embeds=text.tensors["pooled"].to(device, dtype),
        )
