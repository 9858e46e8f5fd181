"""The diffusers configuration of a single-file SD 1.5 / SDXL checkpoint, written by the project so the
conversion needs no hub repo. Sizes (channels, depths, widths, vocabulary) are read from the checkpoint's
tensor shapes; what shapes cannot say (head counts, norm groups, activations, scheduler, scaling factor)
comes from the family's published configuration. A standard checkpoint therefore gets exactly the
family's own configs; a checkpoint whose tensors are not laid out as the family's raises
`LayoutError` (the caller asks for `--config`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from isengard.models.clip_tokenizer import write_clip_tokenizer

UNET = "model.diffusion_model."
VAE = "first_stage_model."
SD15_CLIP = "cond_stage_model.transformer.text_model."
SDXL_CLIP = "conditioner.embedders.0.transformer.text_model."
SDXL_OPEN_CLIP = "conditioner.embedders.1.model."

SCHEDULERS = {
    "sd15": {
        "_class_name": "PNDMScheduler",
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000,
        "set_alpha_to_one": False,
        "skip_prk_steps": True,
        "steps_offset": 1,
        "clip_sample": False,
        "trained_betas": None,
    },
    "sdxl": {
        "_class_name": "EulerDiscreteScheduler",
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000,
        "interpolation_type": "linear",
        "prediction_type": "epsilon",
        "steps_offset": 1,
        "timestep_spacing": "leading",
        "use_karras_sigmas": False,
        "trained_betas": None,
    },
}
VAE_CONSTANTS = {
    "sd15": {"sample_size": 512, "scaling_factor": 0.18215, "force_upcast": True},
    "sdxl": {"sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True},
}
HEAD_DIM = 64  # CLIP text encoders and SDXL's UNet use 64-wide heads; SD 1.5's UNet uses 8 heads


class LayoutError(ValueError):
    """The checkpoint's tensors are not laid out the way its family's are."""


def _count(shapes: dict, pattern: str) -> int:
    found = {int(m.group(1)) for key in shapes if (m := re.match(pattern, key))}
    return max(found) + 1 if found else 0


def _need(shapes: dict, key: str) -> tuple:
    if key not in shapes:
        raise LayoutError(f"missing {key}")
    return tuple(shapes[key])


def unet_config(family: str, shapes: dict) -> dict:
    width, in_channels = _need(shapes, UNET + "input_blocks.0.0.weight")[:2]
    levels: list[list[int]] = [[]]
    index = 1
    while UNET + f"input_blocks.{index}.0.in_layers.0.weight" in shapes or (
        UNET + f"input_blocks.{index}.0.op.weight" in shapes
    ):
        if UNET + f"input_blocks.{index}.0.op.weight" in shapes:
            levels.append([])
        else:
            levels[-1].append(index)
        index += 1
    if not levels[0] or len({len(level) for level in levels}) != 1:
        raise LayoutError("the UNet's down blocks are not regular")
    channels, attention, depths, linear, cross = [], [], [], True, None
    for level in levels:
        first = level[0]
        channels.append(_need(shapes, UNET + f"input_blocks.{first}.0.out_layers.3.weight")[0])
        proj = UNET + f"input_blocks.{first}.1.proj_in.weight"
        attention.append(proj in shapes)
        depth = _count(shapes, re.escape(UNET + f"input_blocks.{first}.1.transformer_blocks.") + r"(\d+)\.")
        depths.append(max(depth, 1))
        if proj in shapes:
            linear = len(shapes[proj]) == 2
            cross = _need(shapes, UNET + f"input_blocks.{first}.1.transformer_blocks.0.attn2.to_k.weight")[1]
    if cross is None:
        raise LayoutError("the UNet has no cross-attention")
    config = {
        "_class_name": "UNet2DConditionModel",
        "sample_size": 64 if family == "sd15" else 128,
        "in_channels": in_channels,
        "out_channels": _need(shapes, UNET + "out.2.weight")[0],
        "block_out_channels": channels,
        "layers_per_block": len(levels[0]),
        "down_block_types": ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attention],
        "up_block_types": ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attention)],
        "cross_attention_dim": cross,
        "act_fn": "silu",
        "norm_num_groups": 32,
        "norm_eps": 1e-5,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "downsample_padding": 1,
        "mid_block_scale_factor": 1,
        "center_input_sample": False,
        "use_linear_projection": linear,
    }
    if width != channels[0]:
        raise LayoutError("the UNet's first block does not match its input convolution")
    if family == "sd15":
        config["attention_head_dim"] = 8
        return config
    time_dim, extra = _need(shapes, UNET + "label_emb.0.0.weight")
    pooled = _need(shapes, SDXL_OPEN_CLIP + "text_projection")[1]
    config.update(
        attention_head_dim=[max(c // HEAD_DIM, 1) for c in channels],
        transformer_layers_per_block=depths,
        addition_embed_type="text_time",
        addition_time_embed_dim=(extra - pooled) // 6,
        projection_class_embeddings_input_dim=extra,
    )
    if time_dim != 4 * channels[0] or (extra - pooled) % 6:
        raise LayoutError("the UNet's size embedding is not SDXL's")
    return config


def vae_config(family: str, shapes: dict) -> dict:
    levels = _count(shapes, re.escape(VAE + "encoder.down.") + r"(\d+)\.")
    if not levels:
        raise LayoutError("no VAE in the checkpoint")
    channels = [_need(shapes, VAE + f"encoder.down.{i}.block.0.conv2.weight")[0] for i in range(levels)]
    return {
        "_class_name": "AutoencoderKL",
        "in_channels": _need(shapes, VAE + "encoder.conv_in.weight")[1],
        "out_channels": _need(shapes, VAE + "decoder.conv_out.weight")[0],
        "down_block_types": ["DownEncoderBlock2D"] * levels,
        "up_block_types": ["UpDecoderBlock2D"] * levels,
        "block_out_channels": channels,
        "layers_per_block": _count(shapes, re.escape(VAE + "encoder.down.0.block.") + r"(\d+)\."),
        "latent_channels": _need(shapes, VAE + "decoder.conv_in.weight")[1],
        "act_fn": "silu",
        "norm_num_groups": 32,
        **VAE_CONSTANTS[family],
    }


def clip_config(shapes: dict, prefix: str):
    """SD 1.5's (and SDXL's first) text encoder: CLIP ViT-L/14 in the transformers layout."""
    from transformers import CLIPTextConfig

    if prefix + "embeddings.token_embedding.weight" not in shapes:  # older files drop `text_model.`
        prefix = prefix.removesuffix("text_model.")
    vocab, hidden = _need(shapes, prefix + "embeddings.token_embedding.weight")
    return CLIPTextConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=_need(shapes, prefix + "encoder.layers.0.mlp.fc1.weight")[0],
        num_hidden_layers=_count(shapes, re.escape(prefix + "encoder.layers.") + r"(\d+)\."),
        num_attention_heads=max(hidden // HEAD_DIM, 1),
        max_position_embeddings=_need(shapes, prefix + "embeddings.position_embedding.weight")[0],
        projection_dim=hidden,
        hidden_act="quick_gelu",
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
    )


def open_clip_config(shapes: dict):
    """SDXL's second text encoder: OpenCLIP ViT-bigG in its original layout, with a projection."""
    from transformers import CLIPTextConfig

    vocab, hidden = _need(shapes, SDXL_OPEN_CLIP + "token_embedding.weight")
    config = CLIPTextConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=_need(shapes, SDXL_OPEN_CLIP + "transformer.resblocks.0.mlp.c_fc.weight")[0],
        num_hidden_layers=_count(shapes, re.escape(SDXL_OPEN_CLIP + "transformer.resblocks.") + r"(\d+)\."),
        num_attention_heads=max(hidden // HEAD_DIM, 1),
        max_position_embeddings=_need(shapes, SDXL_OPEN_CLIP + "positional_embedding")[0],
        projection_dim=_need(shapes, SDXL_OPEN_CLIP + "text_projection")[1],
        hidden_act="gelu",
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
    )
    config.architectures = ["CLIPTextModelWithProjection"]
    return config


def write_config_folder(family: str, shapes: dict, folder: Path) -> Path:
    """A diffusers config folder (no weights) describing this checkpoint, for `from_single_file(config=)`."""
    folder.mkdir(parents=True, exist_ok=True)

    def put(sub: str, name: str, data: dict) -> None:
        (folder / sub).mkdir(exist_ok=True)
        (folder / sub / name).write_text(json.dumps(data, indent=2))

    put("unet", "config.json", unet_config(family, shapes))
    put("vae", "config.json", vae_config(family, shapes))
    put("scheduler", "scheduler_config.json", SCHEDULERS[family])
    if family == "sd15":
        clip_config(shapes, SD15_CLIP).save_pretrained(folder / "text_encoder")
        write_clip_tokenizer(folder / "tokenizer")
        index = {
            "_class_name": "StableDiffusionPipeline",
            "feature_extractor": [None, None],
            "safety_checker": [None, None],
            "image_encoder": [None, None],
            "requires_safety_checker": False,
            "text_encoder": ["transformers", "CLIPTextModel"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
        }
    else:
        clip_config(shapes, SDXL_CLIP).save_pretrained(folder / "text_encoder")
        open_clip_config(shapes).save_pretrained(folder / "text_encoder_2")
        write_clip_tokenizer(folder / "tokenizer")
        write_clip_tokenizer(folder / "tokenizer_2", pad_token="!")
        index = {
            "_class_name": "StableDiffusionXLPipeline",
            "force_zeros_for_empty_prompt": True,
            "text_encoder": ["transformers", "CLIPTextModel"],
            "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
            "tokenizer": ["transformers", "CLIPTokenizer"],
            "tokenizer_2": ["transformers", "CLIPTokenizer"],
            "image_encoder": [None, None],
            "feature_extractor": [None, None],
        }
    index.update(
        unet=["diffusers", "UNet2DConditionModel"],
        vae=["diffusers", "AutoencoderKL"],
        scheduler=["diffusers", SCHEDULERS[family]["_class_name"]],
    )
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder
