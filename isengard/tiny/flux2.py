"""Tiny FLUX.2 [dev]: the FLUX.2 transformer with its guidance embedding (dev is guidance-distilled), a
Mistral-Small 3 text encoder read at hidden states 10, 20 and 30, and the FLUX.2 VAE."""

from __future__ import annotations

from isengard.tiny.flux2_klein import LATENT_CHANNELS, TEXT_HIDDEN
from isengard.tiny.text_encoders import mistral3_encoder
from isengard.tiny.vae import pretrained_vae


def build(vae_steps: int):
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, Flux2Pipeline, Flux2Transformer2DModel

    vae = pretrained_vae("flux2", LATENT_CHANNELS, vae_steps)
    text_encoder, tokenizer = mistral3_encoder(70, hidden=TEXT_HIDDEN)
    torch.manual_seed(71)
    transformer = Flux2Transformer2DModel(
        patch_size=1,
        in_channels=LATENT_CHANNELS * 4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=3 * TEXT_HIDDEN,
        timestep_guidance_channels=256,
        axes_dims_rope=(4, 4, 4, 4),
        guidance_embeds=True,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
        max_image_seq_len=4096, shift=3.0,
    )  # fmt: skip
    return Flux2Pipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer.eval(),
    )
