"""FLUX.2 [klein] (and the FLUX.2 transformer it shares with [dev]).

* Latents: the VAE's mode, patchified 2×2, normalised by the VAE's batch-norm statistics, packed with
  4-axis position ids.
* Flow matching with logit-normal σ; the transformer takes σ as its timestep. [klein] has no guidance
  embedding (real CFG at sampling time); [dev] is guidance-distilled.
* Text: stacked hidden states of the Qwen3 ([klein]) text encoder, with text position ids.
* LoRA targets are the ones ComfyUI's FLUX.2 mapping knows (attention, the fused single-block projections,
  the MLPs, the input and output projections); the modulation and time-embedding layers stay out — ComfyUI could not load a LoRA on them.
"""

from __future__ import annotations

import copy

from plugins.training.diffusers_trainer.families.base import Encoded, Family, flow_noise, stack

# a regular expression (peft matches it against the full module name): a plain "attn.to_out" would also
# hit the double blocks' to_out ModuleList
FLUX2_TARGETS = (
    r".*(attn\.(to_q|to_k|to_v|to_out\.0|add_q_proj|add_k_proj|add_v_proj|to_add_out|to_qkv_mlp_proj)"
    r"|single_transformer_blocks\.\d+\.attn\.to_out"
    r"|ff(_context)?\.linear_(in|out)"
    r"|x_embedder|proj_out)"
)


class Flux2KleinFamily(Family):
    name = "flux2_klein"
    model_attr = "transformer"
    real_cfg = True  # [klein] Base samples with classifier-free guidance against an empty prompt

    def pipeline_class(self):
        from diffusers import Flux2KleinPipeline

        return Flux2KleinPipeline

    @staticmethod
    def _model_class():
        from diffusers import Flux2Transformer2DModel

        return Flux2Transformer2DModel

    def target_modules(self, train_conv: bool):
        return FLUX2_TARGETS

    def encode_prompts(self, loaded, prompts, device):
        import torch

        out = []
        with torch.no_grad():
            for prompt in prompts:
                embeds, text_ids = loaded.pipe.encode_prompt(
                    prompt=prompt, device=device, max_sequence_length=self.text_max_length(loaded)
                )
                out.append(Encoded({"prompt_embeds": embeds.cpu(), "text_ids": text_ids.cpu()}))
        return out

    def encode_latents(self, loaded, pixels, generator):
        import torch

        pipe = loaded.pipe
        vae = pipe.vae
        with torch.no_grad():
            latents = vae.encode(pixels.unsqueeze(0).to(vae.device, vae.dtype)).latent_dist.mode()
            latents = pipe._patchify_latents(latents.float())
            mean = vae.bn.running_mean.view(1, -1, 1, 1).float().to(latents.device)
            std = (vae.bn.running_var.view(1, -1, 1, 1).float() + vae.config.batch_norm_eps).sqrt()
            latents = (latents - mean) / std.to(latents.device)
        return latents.cpu()[0]

    def _guidance(self, loaded, batch: int, value: float, device):
        return None

    def loss(self, loaded, latents, texts, items, generator, params):
        import torch

        pipe, model, dtype = loaded.pipe, loaded.model, loaded.dtype
        noisy, sigmas, noise = flow_noise(latents, generator)
        ids = pipe._prepare_latent_ids(noisy).to(latents.device)
        packed = pipe._pack_latents(noisy.to(dtype))
        pred = model(
            hidden_states=packed,
            timestep=sigmas.to(dtype),
            guidance=self._guidance(loaded, latents.shape[0], params.guidance, latents.device),
            encoder_hidden_states=stack(texts, "prompt_embeds", latents.device, dtype),
            txt_ids=stack(texts, "text_ids", latents.device, torch.long),
            img_ids=ids,
            return_dict=False,
        )[0]
        pred = pipe._unpack_latents_with_ids(pred[:, : packed.shape[1]], ids)
        pred = pred if torch.is_tensor(pred) else torch.stack(pred)
        return torch.nn.functional.mse_loss(pred.float(), (noise - latents).float())

    def _pipeline_kwargs(self) -> dict:
        return {"is_distilled": False}

    def sampling_pipeline(self, loaded):
        return self.pipeline_class()(
            scheduler=copy.deepcopy(loaded.pipe.scheduler),
            vae=loaded.pipe.vae,
            text_encoder=None,
            tokenizer=None,
            transformer=loaded.model,
            **self._pipeline_kwargs(),
        )

    def sample(self, loaded, text, negative, *, seed, steps, size, guidance):
        device, dtype = loaded.model.device, loaded.dtype
        embeds = {"prompt_embeds": text.tensors["prompt_embeds"].to(device, dtype)}
        if self.real_cfg:
            embeds["negative_prompt_embeds"] = negative.tensors["prompt_embeds"].to(device, dtype)
        return self._run_sampler(
            self.sampling_pipeline(loaded), seed=seed, steps=steps, size=size, guidance=guidance, **embeds
        )


class Flux2DevFamily(Flux2KleinFamily):
    """FLUX.2 [dev]: the same transformer and latents, a Mistral-Small 3 text encoder, and guidance
    distilled into the model (a guidance input while training and sampling, no negative prompt)."""

    name = "flux2"
    real_cfg = False

    def pipeline_class(self):
        from diffusers import Flux2Pipeline

        return Flux2Pipeline

    def _guidance(self, loaded, batch: int, value: float, device):
        import torch

        return torch.full((batch,), float(value), device=device, dtype=torch.float32)

    def _pipeline_kwargs(self) -> dict:
        return {}
