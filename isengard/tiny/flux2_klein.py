"""Tiny FLUX.2 [klein] (base, undistilled): the FLUX.2 transformer without guidance embedding, a Qwen3
text encoder read at hidden states 9, 18 and 27, and the FLUX.2 VAE with its batch-norm statistics."""

from __future__ import annotations

from isengard.tiny.text_encoders import qwen3_encoder
from isengard.tiny.vae import pretrained_vae

LATENT_CHANNELS = 4
TEXT_HIDDEN = 16


def build(vae_steps: int):
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, Flux2KleinPipeline, Flux2Transformer2DModel

    vae = pretrained_vae("flux2", LATENT_CHANNELS, vae_steps)
    text_encoder, tokenizer = qwen3_encoder(40, layers=28, causal_lm=True, hidden=TEXT_HIDDEN)
    torch.manual_seed(41)
    transformer = Flux2Transformer2DModel(
        patch_size=1,
        in_channels=LATENT_CHANNELS * 4,  # 2×2-patchified latents
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=3 * TEXT_HIDDEN,  # three stacked hidden states
        timestep_guidance_channels=256,
        axes_dims_rope=(4, 4, 4, 4),
        guidance_embeds=False,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
        max_image_seq_len=4096, shift=3.0,
    )  # fmt: skip
    return Flux2KleinPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer.eval(),
        is_distilled=False,
    )
