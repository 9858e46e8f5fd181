"""Test helper: write a tiny diffusers model's parts as ComfyUI's split files — what Comfy-Org publishes in
`split_files/` (diffusion_models, text_encoders, vae) — so their import can be tested offline. Each is the
inverse of the conversion diffusers applies to the real files: Z-Image's fused `attention.qkv` and original
names, FLUX.2's BFL layout (fused q/k/v, `double_blocks`/`single_blocks`, shift-then-scale final norm),
Qwen-Image's diffusers names under ComfyUI's `model.diffusion_model.` prefix; text encoders in Hugging
Face's causal-LM layout (`model.layers…`, Qwen2.5-VL's older `visual.` tower); the FLUX VAEs (Z-Image
uses FLUX.1's) in their original (ldm) layout."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from tests.ldm_export import _vae as ldm_vae


def _weights(folder: Path, sub: str) -> dict:
    return {k: v for f in sorted((folder / sub).glob("*.safetensors")) for k, v in load_file(str(f)).items()}


def zimage_diffusion_model(state: dict) -> dict:
    out = {}
    renames = [
        ("all_final_layer.2-1.", "final_layer."),
        ("all_x_embedder.2-1.", "x_embedder."),
        (".attention.to_out.0.", ".attention.out."),
        (".attention.norm_k.", ".attention.k_norm."),
        (".attention.norm_q.", ".attention.q_norm."),
    ]
    for key, value in state.items():
        if ".attention.to_k." in key or ".attention.to_v." in key:
            continue
        if ".attention.to_q." in key:
            k, v = state[key.replace("to_q", "to_k")], state[key.replace("to_q", "to_v")]
            out[key.replace(".attention.to_q.", ".attention.qkv.")] = torch.cat([value, k, v])
            continue
        for old, new in renames:
            key = key.replace(old, new)
        out[key] = value
    return out


FLUX2_TOP = [
    ("x_embedder", "img_in"),
    ("context_embedder", "txt_in"),
    ("time_guidance_embed.timestep_embedder.linear_1", "time_in.in_layer"),
    ("time_guidance_embed.timestep_embedder.linear_2", "time_in.out_layer"),
    ("time_guidance_embed.guidance_embedder.linear_1", "guidance_in.in_layer"),
    ("time_guidance_embed.guidance_embedder.linear_2", "guidance_in.out_layer"),
    ("double_stream_modulation_img.linear", "double_stream_modulation_img.lin"),
    ("double_stream_modulation_txt.linear", "double_stream_modulation_txt.lin"),
    ("single_stream_modulation.linear", "single_stream_modulation.lin"),
    ("proj_out", "final_layer.linear"),
]
FLUX2_DOUBLE = {
    "attn.norm_q": "img_attn.norm.query_norm",
    "attn.norm_k": "img_attn.norm.key_norm",
    "attn.to_out.0": "img_attn.proj",
    "ff.linear_in": "img_mlp.0",
    "ff.linear_out": "img_mlp.2",
    "attn.norm_added_q": "txt_attn.norm.query_norm",
    "attn.norm_added_k": "txt_attn.norm.key_norm",
    "attn.to_add_out": "txt_attn.proj",
    "ff_context.linear_in": "txt_mlp.0",
    "ff_context.linear_out": "txt_mlp.2",
}
FLUX2_SINGLE = {
    "attn.to_qkv_mlp_proj": "linear1",
    "attn.to_out": "linear2",
    "attn.norm_q": "norm.query_norm",
    "attn.norm_k": "norm.key_norm",
}
FUSED = {
    "attn.to_q": ("img_attn.qkv", "attn.to_k", "attn.to_v"),
    "attn.add_q_proj": ("txt_attn.qkv", "attn.add_k_proj", "attn.add_v_proj"),
}
SKIPPED = ("attn.to_k", "attn.to_v", "attn.add_k_proj", "attn.add_v_proj")


def flux2_diffusion_model(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        inner, _, param = key.rpartition(".")
        if key.startswith("norm_out.linear."):  # diffusers keeps (scale, shift); BFL (shift, scale)
            scale, shift = value.chunk(2, dim=0)
            out[f"final_layer.adaLN_modulation.1.{param}"] = torch.cat([shift, scale])
            continue
        if key.startswith(("transformer_blocks.", "single_transformer_blocks.")):
            double = key.startswith("transformer_blocks.")
            _, index, name = inner.split(".", 2)
            if name in SKIPPED:
                continue
            prefix = f"{'double_blocks' if double else 'single_blocks'}.{index}"
            if name in FUSED:
                fused, k, v = FUSED[name]
                base = f"transformer_blocks.{index}."
                parts = [value, state[f"{base}{k}.{param}"], state[f"{base}{v}.{param}"]]
                out[f"{prefix}.{fused}.{param}"] = torch.cat(parts)
                continue
            new = (FLUX2_DOUBLE if double else FLUX2_SINGLE)[name]
            out[f"{prefix}.{new}.{'scale' if 'norm' in new else param}"] = value
            continue
        for old, new in FLUX2_TOP:
            if inner == old:
                inner = new
        out[f"{inner}.{param}"] = value
    return out


def causal_lm_text_encoder(state: dict) -> dict:
    """Hugging Face's causal-LM names, as ComfyUI's files keep them: `model.` before the language model,
    Qwen2.5-VL's vision tower as `visual.`; the tied output layer left out."""
    out = {}
    embed = next((v for k, v in state.items() if k.endswith("embed_tokens.weight")), None)
    for key, value in state.items():
        if key == "lm_head.weight" and embed is not None and torch.equal(value, embed):
            continue
        if key.startswith("model.visual."):
            out["visual." + key[len("model.visual.") :]] = value
        elif key.startswith("model.language_model."):
            out["model." + key[len("model.language_model.") :]] = value
        elif key.startswith("model."):
            out[key] = value
        else:
            out["model." + key] = value
    return out


def export_split_files(folder: Path, target: Path, family: str, *, prefix: str = "") -> dict[str, Path]:
    """Write `folder`'s diffusion model, text encoder and VAE as ComfyUI's three files in `target`."""
    import json

    target.mkdir(parents=True, exist_ok=True)
    denoiser = _weights(folder, "transformer")
    if family == "zimage":
        denoiser = zimage_diffusion_model(denoiser)
    elif family in ("flux2", "flux2_klein"):
        denoiser = flux2_diffusion_model(denoiser)
    files = {"diffusion_model": target / f"{family}_diffusion_model.safetensors"}
    save_file({prefix + k: v.contiguous() for k, v in denoiser.items()}, str(files["diffusion_model"]))
    files["text_encoder"] = target / f"{family}_text_encoder.safetensors"
    save_file(causal_lm_text_encoder(_weights(folder, "text_encoder")), str(files["text_encoder"]))
    vae = _weights(folder, "vae")
    if family in ("zimage", "flux2", "flux2_klein"):  # FLUX's ae.safetensors: the original (ldm) layout,
        config = json.loads((folder / "vae" / "config.json").read_text())  # FLUX.2's latent batch norm as is
        vae = {k.removeprefix("first_stage_model."): v for k, v in ldm_vae(vae, config).items()}
    files["vae"] = target / f"{family}_vae.safetensors"
    save_file({k: v.contiguous() for k, v in vae.items()}, str(files["vae"]))
    return files
