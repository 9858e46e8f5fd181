"""Z-Image (base, and Turbo trained through its training adapter).

* Latents: FLUX.1-style VAE, (x − shift)·scale; the transformer takes a *list* of C×1×H×W latents and a
  list of variable-length caption embeddings (Qwen3 hidden states, second to last layer).
* Flow matching with logit-normal σ, but the transformer's timestep is 1 − σ and its prediction has the
  opposite sign (it predicts x − noise).
* Turbo is step-distilled: training a LoRA on it directly breaks the 8-step behaviour. As ai-toolkit does,
  a training adapter (a LoRA that undoes the distillation) is applied while training and switched off for
  the samples and never saved, so the new LoRA is used on plain Turbo.
"""

from __future__ import annotations

import copy

from plugins.training.diffusers_trainer.families.base import Encoded, Family, Loaded, flow_noise

# every name here is one ComfyUI's z_image_to_diffusers maps (the patch embedder and final layer included)
ZIMAGE_TARGETS = ["attention.to_q", "attention.to_k", "attention.to_v", "attention.to_out.0",
                  "feed_forward.w1", "feed_forward.w2", "feed_forward.w3",
                  "all_x_embedder.2-1", "all_final_layer.2-1.linear"]  # fmt: skip
TRAINING_ADAPTER = "training_adapter"


class ZImageFamily(Family):
    name = "zimage"
    model_attr = "transformer"

    def pipeline_class(self):
        from diffusers import ZImagePipeline

        return ZImagePipeline

    @staticmethod
    def _model_class():
        from diffusers import ZImageTransformer2DModel

        return ZImageTransformer2DModel

    def target_modules(self, train_conv: bool) -> list[str]:
        return ZIMAGE_TARGETS

    def before_adapter(self, loaded: Loaded, base) -> None:
        adapter = getattr(base, "training_adapter", None)
        model = loaded.model
        if not adapter or TRAINING_ADAPTER in (getattr(model, "peft_config", None) or {}):
            return
        state = self.pipeline_class().lora_state_dict(str(adapter))
        state = state[0] if isinstance(state, tuple) else state
        model.load_lora_adapter(state, prefix="transformer", adapter_name=TRAINING_ADAPTER)
        loaded.extra["training_adapter"] = str(adapter)

    def after_adapter(self, loaded: Loaded) -> None:
        """Both adapters active while training; only the new one has gradients."""
        if loaded.extra.get("training_adapter"):
            loaded.model.set_adapters([TRAINING_ADAPTER, "default"])
            for name, param in loaded.model.named_parameters():
                if f".{TRAINING_ADAPTER}." in name:
                    param.requires_grad_(False)

    def encode_prompts(self, loaded, prompts, device):
        import torch

        out = []
        with torch.no_grad():
            for prompt in prompts:
                embeds, _ = loaded.pipe.encode_prompt(
                    prompt=prompt,
                    device=device,
                    do_classifier_free_guidance=False,
                    max_sequence_length=self.text_max_length(loaded),
                )
                out.append(Encoded({"prompt_embeds": embeds[0].cpu()}))
        return out

    def encode_latents(self, loaded, pixels, generator):
        import torch

        vae = loaded.pipe.vae
        with torch.no_grad():
            latents = vae.encode(pixels.unsqueeze(0).to(vae.device, vae.dtype)).latent_dist.mode()
        shift = vae.config.shift_factor or 0.0
        return ((latents.float() - shift) * vae.config.scaling_factor).cpu()[0]

    def loss(self, loaded, latents, texts, items, generator, params):
        import torch

        dtype = loaded.dtype
        noisy, sigmas, noise = flow_noise(latents, generator)
        captions = [t.tensors["prompt_embeds"].to(latents.device, dtype) for t in texts]
        out = loaded.model(
            list(noisy.to(dtype).unsqueeze(2).unbind(0)),
            (1.0 - sigmas).to(dtype),
            captions,
            return_dict=False,
        )[0]
        pred = -torch.stack(out).squeeze(2)
        return torch.nn.functional.mse_loss(pred.float(), (noise - latents).float())

    def sample(self, loaded, text, negative, *, seed, steps, size, guidance):
        pipe = self.pipeline_class()(
            scheduler=copy.deepcopy(loaded.pipe.scheduler),
            vae=loaded.pipe.vae,
            text_encoder=None,
            tokenizer=None,
            transformer=loaded.model,
        )
        device, dtype = loaded.model.device, loaded.dtype
        adapted = bool(loaded.extra.get("training_adapter"))
        if adapted:  # the samples show what the LoRA does on plain Turbo
            loaded.model.set_adapters(["default"])
        try:
            return self._run_sampler(
                pipe,
                seed=seed,
                steps=steps,
                size=size,
                guidance=guidance,
                prompt_embeds=[text.tensors["prompt_embeds"].to(device, dtype)],
                negative_prompt_embeds=[negative.tensors["prompt_embeds"].to(device, dtype)],
            )
        finally:
            if adapted:
                loaded.model.set_adapters([TRAINING_ADAPTER, "default"])
