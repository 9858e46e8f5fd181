"""Tiny FLUX.1: the MMDiT with guidance embedding, CLIP (pooled) and T5 text encoders."""

from __future__ import annotations

from isengard.tiny.text_encoders import clip_encoder, t5_encoder
from isengard.tiny.vae import pretrained_vae

T5_MAX_LENGTH = 64


def build(vae_steps: int):
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    vae = pretrained_vae("kl", 16, vae_steps, shift=True)
    text_encoder, tokenizer = clip_encoder(30)
    text_encoder_2, tokenizer_2 = t5_encoder(31, T5_MAX_LENGTH)
    torch.manual_seed(32)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=64,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=32,
        guidance_embeds=True,
        axes_dims_rope=(4, 4, 8),
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
        shift=3.0,
    )
    return FluxPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer.eval(),
    )
