"""Tiny Qwen-Image (and 2512, the same classes): the double-stream MMDiT, a Qwen2.5-VL text encoder and the
causal Qwen-Image VAE (which takes B×C×T×H×W and normalises latents per channel)."""

from __future__ import annotations

from isengard.tiny.text_encoders import qwen25_vl_encoder
from isengard.tiny.vae import pretrained_vae

LATENT_CHANNELS = 4
TEXT_HIDDEN = 16


def build(vae_steps: int):
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, QwenImagePipeline, QwenImageTransformer2DModel

    vae = pretrained_vae("qwen", LATENT_CHANNELS, vae_steps)
    text_encoder, tokenizer = qwen25_vl_encoder(60, hidden=TEXT_HIDDEN)
    torch.manual_seed(61)
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=LATENT_CHANNELS * 4,
        out_channels=LATENT_CHANNELS,
        num_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TEXT_HIDDEN,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True, base_shift=0.5, max_shift=0.9, base_image_seq_len=256,
        max_image_seq_len=8192, shift=1.0,
    )  # fmt: skip
    return QwenImagePipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer.eval(),
    )
