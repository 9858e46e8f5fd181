"""Qwen-Image (and 2512).

* Latents: a causal video VAE (B×C×T×H×W, one frame), normalised per channel by its latents_mean/std,
  packed 2×2 with the image shape passed to the transformer.
* Flow matching with logit-normal σ (the transformer's timestep is σ); text is Qwen2.5-VL's last hidden
  state with its attention mask. True CFG (`true_cfg_scale`) with a negative prompt at sampling time.
"""

from __future__ import annotations

import copy

from plugins.training.diffusers_trainer.families.base import Encoded, Family, flow_noise

QWEN_TARGETS = ["attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0",
                "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out",
                "img_mlp.net.0.proj", "img_mlp.net.2", "txt_mlp.net.0.proj", "txt_mlp.net.2", "img_in", "proj_out"]  # fmt: skip


class QwenImageFamily(Family):
    name = "qwen_image"
    model_attr = "transformer"

    def pipeline_class(self):
        from diffusers import QwenImagePipeline

        return QwenImagePipeline

    @staticmethod
    def _model_class():
        from diffusers import QwenImageTransformer2DModel

        return QwenImageTransformer2DModel

    def target_modules(self, train_conv: bool) -> list[str]:
        return QWEN_TARGETS

    def encode_prompts(self, loaded, prompts, device):
        import torch

        out = []
        with torch.no_grad():
            for prompt in prompts:
                embeds, mask = loaded.pipe.encode_prompt(
                    prompt=prompt or " ", device=device, max_sequence_length=self.text_max_length(loaded)
                )
                if mask is None:  # the pipeline drops an all-ones mask
                    mask = torch.ones(embeds.shape[:2], dtype=torch.long)
                out.append(Encoded({"prompt_embeds": embeds.cpu(), "mask": mask.cpu()}))
        return out

    def encode_latents(self, loaded, pixels, generator):
        import torch

        vae = loaded.pipe.vae
        with torch.no_grad():
            latents = vae.encode(pixels[None, :, None].to(vae.device, vae.dtype)).latent_dist.mode().float()
        mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
        return ((latents.cpu() - mean) / std)[0, :, 0]  # C×H×W: the frame axis is added back per batch

    def loss(self, loaded, latents, texts, items, generator, params):
        import torch

        pipe, dtype = loaded.pipe, loaded.dtype
        batch, channels, height, width = latents.shape
        noisy, sigmas, noise = flow_noise(latents, generator)
        packed = pipe._pack_latents(noisy.to(dtype), batch, channels, height, width)
        embeds, mask = _padded(texts, latents.device, dtype)
        pred = loaded.model(
            hidden_states=packed,
            encoder_hidden_states=embeds,
            encoder_hidden_states_mask=mask,
            timestep=sigmas.to(dtype),
            img_shapes=[[(1, height // 2, width // 2)]] * batch,
            return_dict=False,
        )[0]
        factor = loaded.vae_scale_factor
        pred = pipe._unpack_latents(pred, height * factor, width * factor, factor)[:, :, 0]
        return torch.nn.functional.mse_loss(pred.float(), (noise - latents).float())

    def sample(self, loaded, text, negative, *, seed, steps, size, guidance):
        import torch

        pipe = self.pipeline_class()(
            scheduler=copy.deepcopy(loaded.pipe.scheduler),
            vae=loaded.pipe.vae,
            text_encoder=None,
            tokenizer=None,
            transformer=loaded.model,
        )
        device, dtype = loaded.model.device, loaded.dtype
        pipe.set_progress_bar_config(disable=True)
        return pipe(
            prompt_embeds=text.tensors["prompt_embeds"].to(device, dtype),
            prompt_embeds_mask=text.tensors["mask"].to(device),
            negative_prompt_embeds=negative.tensors["prompt_embeds"].to(device, dtype),
            negative_prompt_embeds_mask=negative.tensors["mask"].to(device),
            true_cfg_scale=guidance,
            height=size,
            width=size,
            num_inference_steps=steps,
            generator=torch.Generator().manual_seed(seed),
        ).images[0]


def _padded(texts: list[Encoded], device, dtype):
    """Captions of different lengths in one batch: zero-padded embeddings and a mask that hides the pad."""
    import torch

    longest = max(t.tensors["prompt_embeds"].shape[1] for t in texts)
    embeds, masks = [], []
    for t in texts:
        e, m = t.tensors["prompt_embeds"], t.tensors["mask"]
        pad = longest - e.shape[1]
        embeds.append(torch.nn.functional.pad(e, (0, 0, 0, pad)))
        masks.append(torch.nn.functional.pad(m, (0, pad)))
    return torch.cat(embeds).to(device, dtype), torch.cat(masks).to(device)
