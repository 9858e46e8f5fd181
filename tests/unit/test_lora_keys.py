"""LoRA files in the key formats ComfyUI, A1111/Forge and diffusers read (see the module docs of lora_io)."""

from __future__ import annotations

import re

import pytest
import torch

from plugins.lora_format import detect_family, detect_key_format, kohya_name, training_metadata
from plugins.training.diffusers_trainer.lora_io import export_tensors
from plugins.training.mock import mock_lora_tensors

# module paths ComfyUI maps for diffusers-format FLUX LoRAs (comfy.utils.flux_to_diffusers)
FLUX_MODULE = re.compile(
    r"^transformer\.("
    r"transformer_blocks\.\d+\.(attn\.(to_q|to_k|to_v|to_out\.0|add_q_proj|add_k_proj|add_v_proj|to_add_out)"
    r"|ff\.net\.(0\.proj|2)|ff_context\.net\.(0\.proj|2)|norm1\.linear|norm1_context\.linear)"
    r"|single_transformer_blocks\.\d+\.(attn\.(to_q|to_k|to_v)|proj_mlp|proj_out|norm\.linear)"
    r"|x_embedder|context_embedder|proj_out|norm_out\.linear"
    r")\.lora_[AB]\.weight$"
)
# kohya names A1111 and ComfyUI accept for diffusers-layout UNets (lora_unet_<path with _>)
KOHYA_UNET = re.compile(
    r"^lora_unet_((down|up)_blocks_\d+|mid_block)_(attentions_\d+_(transformer_blocks_\d+_attn[12]_to_(q|k|v|out_0)"
    r"|proj_in|proj_out)|resnets_\d+_(conv1|conv2|conv_shortcut))\.(lora_down\.weight|lora_up\.weight|alpha)$"
)


def _fake_state(modules: dict[str, tuple[int, ...]], rank: int = 4) -> dict[str, torch.Tensor]:
    state = {}
    for module, shape in modules.items():
        if len(shape) == 4:  # conv: out, in, k, k
            state[f"{module}.lora_A.weight"] = torch.randn(rank, shape[1], shape[2], shape[3])
            state[f"{module}.lora_B.weight"] = torch.randn(shape[0], rank, 1, 1)
        else:
            state[f"{module}.lora_A.weight"] = torch.randn(rank, shape[1])
            state[f"{module}.lora_B.weight"] = torch.randn(shape[0], rank)
    return state


def test_flux_export_uses_peft_keys_and_bakes_alpha_into_lora_b():
    state = _fake_state(
        {
            "transformer_blocks.0.attn.to_q": (32, 32),
            "x_embedder": (32, 64),
            "single_transformer_blocks.0.proj_mlp": (128, 32),
        }
    )
    out = export_tensors("flux", state, alpha=8.0, conv_alpha=4.0, dtype=torch.float32)
    assert all(FLUX_MODULE.match(k) for k in out), [k for k in out if not FLUX_MODULE.match(k)]
    assert not any(k.endswith(".alpha") for k in out)  # ComfyUI: no alpha key means scale 1
    key = "transformer.transformer_blocks.0.attn.to_q"
    assert torch.allclose(
        out[f"{key}.lora_B.weight"], state["transformer_blocks.0.attn.to_q.lora_B.weight"] * 2
    )
    assert detect_key_format(list(out)) == "peft" and detect_family(list(out), {}) == "flux"


def test_sd_export_uses_kohya_keys_with_alpha_per_module():
    state = _fake_state(
        {
            "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q": (64, 64),
            "up_blocks.0.attentions.1.transformer_blocks.0.attn2.to_out.0": (64, 64),
            "down_blocks.0.resnets.0.conv1": (32, 32, 3, 3),
            "mid_block.attentions.0.proj_in": (64, 64),
        }
    )
    out = export_tensors("sdxl", state, alpha=16.0, conv_alpha=4.0, dtype=torch.float16)
    assert all(KOHYA_UNET.match(k) for k in out), [k for k in out if not KOHYA_UNET.match(k)]
    assert out["lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q.alpha"].item() == 16.0
    assert out["lora_unet_down_blocks_0_resnets_0_conv1.alpha"].item() == 4.0
    assert out["lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight"].shape == (4, 32, 3, 3)
    assert all(v.dtype == torch.float16 for v in out.values())
    assert detect_key_format(list(out)) == "kohya"


@pytest.mark.parametrize("family", ["flux", "sdxl", "sd15"])
def test_mock_lora_keys_follow_the_real_formats(family):
    keys = list(mock_lora_tensors(family, 4, 0))
    pattern = FLUX_MODULE if family == "flux" else KOHYA_UNET
    assert all(pattern.match(k) for k in keys)
    assert detect_family(keys, {}) == family


def test_family_from_metadata_and_from_key_structure():
    assert (
        detect_family(["lora_unet_x.lora_down.weight"], {"ss_base_model_version": "sdxl_base_v1-0"}) == "sdxl"
    )
    assert detect_family(["lora_unet_x.lora_down.weight"], {"ss_base_model_version": "sd_v1"}) == "sd15"
    assert detect_family(["lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight"], {}) == "sdxl"
    assert detect_family(["lora_unet_input_blocks_1_1_proj_in.lora_down.weight"], {}) == "sd15"
    assert detect_family(["diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight"], {}) == "flux"
    assert kohya_name("down_blocks.0.attentions.0.proj_in") == "lora_unet_down_blocks_0_attentions_0_proj_in"


def test_training_metadata_has_the_kohya_keys_civitai_shows():
    meta = training_metadata(
        family="sdxl",
        base_model="sdxl-base",
        base_sha256="ab" * 32,
        trigger_word="zxq",
        steps=1500,
        rank=32,
        alpha=16,
        resolution=1024,
        dataset_size=20,
        training_seconds=1234.5,
        learning_rate=1e-4,
        optimizer="adamw8bit",
        backend="diffusers",
        backend_version="1.0.0",
        name="alice",
    )
    for key in (
        "ss_network_dim",
        "ss_network_alpha",
        "ss_base_model_version",
        "ss_max_train_steps",
        "ss_resolution",
        "ss_output_name",
        "modelspec.trigger_phrase",
    ):
        assert meta[key]
    assert all(isinstance(v, str) for v in meta.values())
