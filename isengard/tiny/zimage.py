"""Tiny Z-Image: the single-stream DiT with its noise and context refiners, a Qwen3 text encoder and a
FLUX.1-style 16-channel VAE. The same weights stand for Z-Image and Z-Image-Turbo; a tiny training adapter
(in ai-toolkit's key format, like ostris' real one) is written next to them so the Turbo training flow —
merge the adapter, train, save only the new LoRA — runs offline too."""

from __future__ import annotations

from isengard.tiny.text_encoders import qwen3_encoder
from isengard.tiny.vae import pretrained_vae

TEXT_HIDDEN = 16
TRAINING_ADAPTER = "training_adapter.safetensors"


def build(vae_steps: int):
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, ZImagePipeline, ZImageTransformer2DModel

    vae = pretrained_vae("kl", 16, vae_steps, shift=True)
    text_encoder, tokenizer = qwen3_encoder(50, hidden=TEXT_HIDDEN)
    torch.manual_seed(51)
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,),
        all_f_patch_size=(1,),
        in_channels=16,
        dim=32,
        n_layers=2,
        n_refiner_layers=1,
        n_heads=2,
        n_kv_heads=2,
        norm_eps=1e-5,
        qk_norm=True,
        cap_feat_dim=TEXT_HIDDEN,
        rope_theta=256.0,
        t_scale=1000.0,
        axes_dims=[8, 4, 4],
        axes_lens=[256, 32, 32],
    )
    with torch.no_grad():  # the pad tokens are created with torch.empty: give them values
        transformer.x_pad_token.copy_(torch.ones_like(transformer.x_pad_token))
        transformer.cap_pad_token.copy_(torch.ones_like(transformer.cap_pad_token))
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    return ZImagePipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer.eval(),
    )


def extras(pipe) -> dict[str, dict]:
    """The tiny Turbo training adapter: rank 4 on every Linear of `layers.*`, `diffusion_model.` keys.
    Recorded with the weights by `python -m isengard.tiny.freeze`; a build writes it from there."""
    import torch

    generator = torch.Generator().manual_seed(52)
    tensors = {}
    for name, module in pipe.transformer.named_modules():
        if isinstance(module, torch.nn.Linear) and name.startswith("layers."):
            a = torch.randn(4, module.in_features, generator=generator) * 0.05
            b = torch.randn(module.out_features, 4, generator=generator) * 0.05
            tensors[f"diffusion_model.{name}.lora_A.weight"] = a
            tensors[f"diffusion_model.{name}.lora_B.weight"] = b
    return {TRAINING_ADAPTER: tensors}
