"""Test helper: write a tiny diffusers SD 1.5 pipeline as a single-file checkpoint in the original (ldm)
layout — what Civitai files look like — so the single-file import can be tested offline. The inverse of
diffusers' own ldm → diffusers conversion, for the SD 1.5 UNet/VAE/CLIP layout."""

from __future__ import annotations

from pathlib import Path

RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
VAE_RESNET = {"conv_shortcut": "nin_shortcut"}


def _unet(state: dict, config: dict) -> dict:
    lpb = config["layers_per_block"]
    blocks = len(config["block_out_channels"])
    renames: list[tuple[str, str]] = [
        ("time_embedding.linear_1.", "time_embed.0."),
        ("time_embedding.linear_2.", "time_embed.2."),
        ("conv_in.", "input_blocks.0.0."),
        ("conv_norm_out.", "out.0."),
        ("conv_out.", "out.2."),
        ("mid_block.resnets.0.", "middle_block.0."),
        ("mid_block.attentions.0.", "middle_block.1."),
        ("mid_block.resnets.1.", "middle_block.2."),
    ]
    for b in range(blocks):
        for layer in range(lpb):
            i = 1 + b * (lpb + 1) + layer
            renames += [
                (f"down_blocks.{b}.resnets.{layer}.", f"input_blocks.{i}.0."),
                (f"down_blocks.{b}.attentions.{layer}.", f"input_blocks.{i}.1."),
            ]
        if b < blocks - 1:
            renames.append(
                (f"down_blocks.{b}.downsamplers.0.conv.", f"input_blocks.{1 + b * (lpb + 1) + lpb}.0.op.")
            )
        for layer in range(lpb + 1):
            i = b * (lpb + 1) + layer
            renames += [
                (f"up_blocks.{b}.resnets.{layer}.", f"output_blocks.{i}.0."),
                (f"up_blocks.{b}.attentions.{layer}.", f"output_blocks.{i}.1."),
            ]
        if b < blocks - 1:
            last = b * (lpb + 1) + lpb
            has_attention = any(k.startswith(f"up_blocks.{b}.attentions.") for k in state)
            renames.append(
                (f"up_blocks.{b}.upsamplers.0.", f"output_blocks.{last}.{2 if has_attention else 1}.")
            )
    out = {}
    for key, value in state.items():
        new = key
        for old, ldm in renames:
            if key.startswith(old):
                new = ldm + key[len(old) :]
                if ".resnets." in old or old.startswith("mid_block.resnets"):
                    _, _, tail = new.partition(ldm)
                    name, _, rest = tail.partition(".")
                    new = ldm + RESNET.get(name, name) + ("." + rest if rest else "")
                break
        out["model.diffusion_model." + new] = value
    return out


def _vae(state: dict, config: dict) -> dict:
    blocks = len(config["block_out_channels"])
    out = {}
    for key, value in state.items():
        new = key
        parts = key.split(".")
        if parts[0] in ("encoder", "decoder") and parts[1] in ("down_blocks", "up_blocks"):
            index = int(parts[2])
            ldm_index = index if parts[1] == "down_blocks" else blocks - 1 - index
            kind = "down" if parts[1] == "down_blocks" else "up"
            if parts[3] == "resnets":
                name = VAE_RESNET.get(parts[5], parts[5])
                new = ".".join([parts[0], kind, str(ldm_index), "block", parts[4], name, *parts[6:]])
            else:  # downsamplers.0.conv / upsamplers.0.conv
                new = ".".join(
                    [
                        parts[0],
                        kind,
                        str(ldm_index),
                        "downsample" if kind == "down" else "upsample",
                        *parts[5:],
                    ]
                )
        elif parts[0] in ("encoder", "decoder") and parts[1] == "mid_block":
            index = int(parts[3])
            name = VAE_RESNET.get(parts[4], parts[4])
            new = ".".join([parts[0], "mid", f"block_{index + 1}", name, *parts[5:]])
        elif parts[0] in ("encoder", "decoder") and parts[1] == "conv_norm_out":
            new = ".".join([parts[0], "norm_out", *parts[2:]])
        out["first_stage_model." + new] = value
    return out


def export_sd15_single_file(folder: Path, target: Path) -> Path:
    import json

    from diffusers import StableDiffusionPipeline
    from safetensors.torch import save_file

    pipe = StableDiffusionPipeline.from_pretrained(str(folder))
    unet_config = json.loads((Path(folder) / "unet" / "config.json").read_text())
    vae_config = json.loads((Path(folder) / "vae" / "config.json").read_text())
    tensors = {}
    tensors.update(_unet(pipe.unet.state_dict(), unet_config))
    tensors.update(_vae(pipe.vae.state_dict(), vae_config))
    for key, value in pipe.text_encoder.state_dict().items():
        key = key if key.startswith("text_model.") else "text_model." + key  # the ldm layout keeps the prefix
        tensors["cond_stage_model.transformer." + key] = value
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(target))
    return target
