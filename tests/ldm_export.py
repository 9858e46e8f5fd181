"""Test helper: write a diffusers SD 1.5 or SDXL pipeline as a single-file checkpoint in the original
(ldm/sgm) layout — what Civitai files look like — so the single-file import can be tested offline. The
inverse of diffusers' own ldm → diffusers conversion: UNet, VAE, CLIP and SDXL's OpenCLIP encoder."""

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
VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _unet(state: dict, config: dict) -> dict:
    lpb = config["layers_per_block"]
    blocks = len(config["block_out_channels"])
    renames: list[tuple[str, str]] = [
        ("time_embedding.linear_1.", "time_embed.0."),
        ("time_embedding.linear_2.", "time_embed.2."),
        ("conv_in.", "input_blocks.0.0."),
        ("add_embedding.linear_1.", "label_emb.0.0."),
        ("add_embedding.linear_2.", "label_emb.0.2."),
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
        elif parts[0] in ("encoder", "decoder") and parts[1:3] == ["mid_block", "attentions"]:
            name = VAE_ATTENTION[".".join(parts[4:-1])]
            new = ".".join([parts[0], "mid", "attn_1", name, parts[-1]])
            if value.ndim == 2:  # the ldm VAE's attention uses 1×1 convolutions
                value = value[:, :, None, None]
        elif parts[0] in ("encoder", "decoder") and parts[1] == "mid_block":
            index = int(parts[3])
            name = VAE_RESNET.get(parts[4], parts[4])
            new = ".".join([parts[0], "mid", f"block_{index + 1}", name, *parts[5:]])
        elif parts[0] in ("encoder", "decoder") and parts[1] == "conv_norm_out":
            new = ".".join([parts[0], "norm_out", *parts[2:]])
        out["first_stage_model." + new] = value
    return out


OPEN_CLIP = {"layer_norm1": "ln_1", "layer_norm2": "ln_2", "mlp.fc1": "mlp.c_fc", "mlp.fc2": "mlp.c_proj"}


def _clip(state: dict, prefix: str) -> dict:
    # the ldm layout keeps transformers' `text_model.` prefix
    return {prefix + (k if k.startswith("text_model.") else "text_model." + k): v for k, v in state.items()}


def _open_clip(state: dict, prefix: str) -> dict:
    """SDXL's second text encoder in OpenCLIP's layout: fused q/k/v, `resblocks`, a transposed projection."""
    import torch

    state = {k.removeprefix("text_model."): v for k, v in state.items()}
    out = {
        "token_embedding.weight": state.pop("embeddings.token_embedding.weight"),
        "positional_embedding": state.pop("embeddings.position_embedding.weight"),
        "ln_final.weight": state.pop("final_layer_norm.weight"),
        "ln_final.bias": state.pop("final_layer_norm.bias"),
        "text_projection": state.pop("text_projection.weight").T,
    }
    layers = {int(k.split(".")[2]) for k in state if k.startswith("encoder.layers.")}
    for n in sorted(layers):
        src, dst = f"encoder.layers.{n}.", f"transformer.resblocks.{n}."
        for part in ("weight", "bias"):
            out[dst + f"attn.in_proj_{part}"] = torch.cat(
                [state.pop(src + f"self_attn.{q}_proj.{part}") for q in ("q", "k", "v")]
            )
            out[dst + f"attn.out_proj.{part}"] = state.pop(src + f"self_attn.out_proj.{part}")
            for ours, theirs in OPEN_CLIP.items():
                out[dst + f"{theirs}.{part}"] = state.pop(src + f"{ours}.{part}")
    leftover = [k for k in state if not k.endswith("position_ids")]
    assert not leftover, leftover
    return {prefix + k: v for k, v in out.items()}


def single_file_tensors(pipe) -> dict:
    """A diffusers SD 1.5 or SDXL pipeline's weights under the original single-file names."""
    tensors = {}
    tensors.update(_unet(pipe.unet.state_dict(), dict(pipe.unet.config)))
    tensors.update(_vae(pipe.vae.state_dict(), dict(pipe.vae.config)))
    if getattr(pipe, "text_encoder_2", None) is None:
        tensors.update(_clip(pipe.text_encoder.state_dict(), "cond_stage_model.transformer."))
    else:
        tensors.update(_clip(pipe.text_encoder.state_dict(), "conditioner.embedders.0.transformer."))
        tensors.update(_open_clip(pipe.text_encoder_2.state_dict(), "conditioner.embedders.1.model."))
    return tensors


def export_single_file(pipe, target: Path) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in single_file_tensors(pipe).items()}, str(target))
    return target


def export_sd15_single_file(folder: Path, target: Path) -> Path:
    from diffusers import StableDiffusionPipeline

    return export_single_file(StableDiffusionPipeline.from_pretrained(str(folder)), target)
