"""Tiny FLUX, SDXL and SD 1.5 bases: the real diffusers architectures at toy size, random weights, built
deterministically and saved in diffusers format, so they load with the same `from_pretrained` code as the
real models.

The VAE gets a short deterministic pre-training as a plain autoencoder on synthetic colour images, so that
colours survive encode/decode and a LoRA trained on them visibly learns (a random VAE decodes everything
to about one colour). Its scaling factor (and FLUX's shift) are then measured from its latents, the way
the real ones were derived.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from isengard.tiny.tokenizers import clip_tokenizer, t5_tokenizer

FAMILIES = ("flux", "sdxl", "sd15")
MARKER = "isengard_tiny.json"
BUILD_VERSION = 4  # 4: CLIP weights keep their text_model. prefix
RESOLUTION = 64
T5_MAX_LENGTH = 64
VAE_STEPS = 300


def is_built(folder: Path) -> bool:
    marker = Path(folder) / MARKER
    if not marker.exists():
        return False
    try:
        return json.loads(marker.read_text()).get("build_version") == BUILD_VERSION
    except ValueError:
        return False


def build_tiny_base(family: str, target: Path, *, vae_steps: int = VAE_STEPS, progress=None) -> Path:
    """Build (once) the tiny base of `family` into `target`; an existing build is reused."""
    target = Path(target)
    if is_built(target):
        return target
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    import torch

    tmp = target.with_name(target.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    torch.manual_seed(0)
    say = progress or (lambda message: None)
    say(f"Pre-training the tiny {family} VAE ({vae_steps} steps)")
    vae = _vae(family, vae_steps)
    say(f"Building the tiny {family} model")
    pipe = {"flux": _flux, "sdxl": _sdxl, "sd15": _sd15}[family](vae)
    pipe.save_pretrained(tmp)
    for folder in ("text_encoder", "text_encoder_2"):
        clip_keys_for_every_reader(tmp / folder)
    (tmp / MARKER).write_text(
        json.dumps(
            {
                "family": family,
                "build_version": BUILD_VERSION,
                "resolution": RESOLUTION,
                "t5_max_length": T5_MAX_LENGTH,
                "note": "random weights: a test model, its pictures are not meant to look like anything",
            },
            indent=2,
        )
    )
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def clip_keys_for_every_reader(folder: Path) -> None:
    """Save CLIP text encoders with the `text_model.` prefix on their weights.

    transformers 5.24 writes CLIP checkpoints without that prefix; older readers (ai-toolkit's transformers
    5.5, ComfyUI) then find none of the weights and silently use a random text encoder. The prefixed
    layout is the one every version reads (5.24 maps it back on load).
    """
    weights = Path(folder) / "model.safetensors"
    config = Path(folder) / "config.json"
    if not weights.exists() or not config.exists():
        return
    if "CLIPText" not in " ".join(json.loads(config.read_text()).get("architectures") or []):
        return
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(weights), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {
            (
                key if key.startswith(("text_model.", "text_projection")) else f"text_model.{key}"
            ): handle.get_tensor(key)
            for key in handle.keys()  # noqa: SIM118 - a safetensors handle, not a dict
        }
    tmp = weights.with_name(".model.safetensors.tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(weights)


def tiny_info(folder: Path) -> dict:
    return json.loads((Path(folder) / MARKER).read_text())


# --- VAE ------------------------------------------------------------------------------------------------


def synthetic_batch(generator, size: int = 32, batch: int = 8):
    """Solid colours, left/right splits and rectangles in random colours, in [-1, 1]."""
    import torch

    images = torch.empty(batch, 3, size, size)
    for i in range(batch):
        kind = int(torch.randint(0, 3, (1,), generator=generator))
        a = torch.rand(3, 1, 1, generator=generator) * 2 - 1
        b = torch.rand(3, 1, 1, generator=generator) * 2 - 1
        image = a.expand(3, size, size).clone()
        if kind == 1:
            image[:, :, size // 2 :] = b
        elif kind == 2:
            x0, y0 = (int(v) for v in torch.randint(0, size // 2, (2,), generator=generator))
            image[:, y0 : y0 + size // 2, x0 : x0 + size // 2] = b
        images[i] = image
    return images


def _vae(family: str, steps: int):
    """A pre-trained tiny VAE; SD 1.5 and SDXL share one (same shape), so it is trained once per process."""
    import copy

    key = (16 if family == "flux" else 4, steps)
    if key not in _VAE_CACHE:
        _VAE_CACHE[key] = _train_vae(family, steps)
    return copy.deepcopy(_VAE_CACHE[key])


_VAE_CACHE: dict = {}


def _train_vae(family: str, steps: int):
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(1)
    flux = family == "flux"
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(16, 32),
        layers_per_block=1,
        latent_channels=16 if flux else 4,
        norm_num_groups=4,
        sample_size=RESOLUTION,
        use_quant_conv=False,
        use_post_quant_conv=False,
        mid_block_add_attention=False,  # at this size attention makes colours train worse
        force_upcast=False,
    )
    generator = torch.Generator().manual_seed(2)
    optimizer = torch.optim.Adam(vae.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    vae.train()
    for _ in range(steps):
        images = synthetic_batch(generator)
        posterior = vae.encode(images).latent_dist
        recon = vae.decode(posterior.mode()).sample
        loss = torch.nn.functional.mse_loss(recon, images) + 1e-6 * posterior.kl().mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    vae.eval()
    with torch.no_grad():
        latents = torch.cat([vae.encode(synthetic_batch(generator)).latent_dist.mode() for _ in range(8)])
    shift = float(latents.mean()) if flux else None
    scale = float(1.0 / (latents - (shift or 0.0)).std())
    vae.register_to_config(scaling_factor=round(scale, 4), shift_factor=round(shift, 4) if flux else None)
    return vae


# --- text encoders ----------------------------------------------------------------------------------------


def _clip_config(vocab_size: int, eos: int, bos: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=32,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=eos,
        hidden_act="gelu",
    )


def _clip_encoder(seed: int, *, projection: bool = False):
    import torch
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = clip_tokenizer()
    torch.manual_seed(seed)
    config = _clip_config(len(tokenizer), tokenizer.eos_token_id, tokenizer.bos_token_id)
    model = CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)
    return model.eval(), tokenizer


# --- pipelines -------------------------------------------------------------------------------------------


def _sd15(vae):
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel

    text_encoder, tokenizer = _clip_encoder(10)
    torch.manual_seed(11)
    unet = UNet2DConditionModel(
        sample_size=RESOLUTION // 2,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
        norm_num_groups=4,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _sdxl(vae):
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    text_encoder, tokenizer = _clip_encoder(20)
    text_encoder_2, tokenizer_2 = _clip_encoder(21, projection=True)
    torch.manual_seed(22)
    unet = UNet2DConditionModel(
        sample_size=RESOLUTION // 2,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        transformer_layers_per_block=(1, 1),
        cross_attention_dim=64,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=80,
        norm_num_groups=4,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        timestep_spacing="leading",
        steps_offset=1,
    )
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet.eval(),
        scheduler=scheduler,
        force_zeros_for_empty_prompt=True,
    )


def _flux(vae):
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    text_encoder, tokenizer = _clip_encoder(30)
    tokenizer_2 = t5_tokenizer(T5_MAX_LENGTH)
    torch.manual_seed(31)
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer_2),
            d_model=32,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            feed_forward_proj="gated-gelu",
            pad_token_id=tokenizer_2.pad_token_id,
            eos_token_id=tokenizer_2.eos_token_id,
            decoder_start_token_id=tokenizer_2.pad_token_id,
        )
    ).eval()
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
