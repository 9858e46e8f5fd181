"""Every key the built-in trainer exports for the newer families is one ComfyUI maps (the rules of
comfy/utils.py and comfy/lora.py, recorded in the project's reference notes), with the scale baked in."""

from __future__ import annotations

import re

import pytest

from plugins.lora_format import detect_family
from plugins.training.diffusers_trainer.families import FAMILIES
from plugins.training.diffusers_trainer.lora_io import export_tensors, peft_state
from tests.helpers import install_tiny

# comfy.utils.flux_to_diffusers covers these FLUX.2 names; it has none for the modulation or time layers
FLUX2_COMFY = re.compile(
    r"^transformer\.("
    r"transformer_blocks\.\d+\.(attn\.(to_q|to_k|to_v|to_out\.0|add_q_proj|add_k_proj|add_v_proj|to_add_out)"
    r"|ff\.linear_(in|out)|ff_context\.linear_(in|out))"
    r"|single_transformer_blocks\.\d+\.attn\.(to_qkv_mlp_proj|to_out)"
    r"|x_embedder|context_embedder|proj_out|norm_out\.linear"
    r")\.lora_[AB]\.weight$"
)
# comfy.utils.z_image_to_diffusers
ZIMAGE_COMFY = re.compile(
    r"^transformer\.("
    r"(layers|context_refiner|noise_refiner)\.\d+\.(attention\.(to_q|to_k|to_v|to_out\.0)|feed_forward\.w[123]"
    r"|adaLN_modulation\.0)"
    r"|all_x_embedder\.2-1|all_final_layer\.2-1\.(linear|adaLN_modulation\.1)|cap_embedder\.1|t_embedder\.mlp\.[02]"
    r")\.lora_[AB]\.weight$"
)


def _adapted(tiny_models, tmp_path, family: str):
    from diffusers import DiffusionPipeline
    from peft import LoraConfig

    folder = install_tiny(tmp_path, family, tiny_models)
    model = DiffusionPipeline.from_pretrained(str(folder)).transformer
    targets = FAMILIES[family]().target_modules(train_conv=True)
    model.add_adapter(LoraConfig(r=4, lora_alpha=8, init_lora_weights="gaussian", target_modules=targets))
    return model


@pytest.mark.parametrize("family", ["flux2_klein", "flux2", "zimage", "qwen_image"])
def test_every_exported_key_is_one_comfyui_maps(tiny_models, tmp_path, family):
    import torch

    model = _adapted(tiny_models, tmp_path, family)
    state = peft_state(model)
    out = export_tensors(family, state, alpha=8.0, conv_alpha=4.0, dtype=torch.float32)
    assert out and not any(k.endswith(".alpha") for k in out)  # ComfyUI reads no metadata alpha: baked in
    module, tensor = next((k, v) for k, v in out.items() if k.endswith("lora_B.weight"))
    plain = module.removeprefix("transformer.")
    assert torch.allclose(tensor, state[plain] * 2)  # alpha / rank = 2
    if family in ("flux2_klein", "flux2"):
        bad = [k for k in out if not FLUX2_COMFY.match(k)]
        assert not any(re.search(r"stream_modulation|time_guidance_embed", k) for k in out)
    elif family == "zimage":
        bad = [k for k in out if not ZIMAGE_COMFY.match(k)]
    else:  # Qwen-Image: ComfyUI's native keys are the diffusers names, so each must be a real Linear
        linears = {
            n.removesuffix(".base_layer") for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
        }
        bad = [k for k in out if re.sub(r"^transformer\.|\.lora_[AB]\.weight$", "", k) not in linears]
    assert not bad, bad
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    # a file without metadata is still recognised; only the real FLUX.2 [dev]'s 6144-wide layers tell it
    # from [klein] (the tiny one is as narrow as klein's: see the ai-toolkit test below for the real widths)
    assert detect_family(list(out), {}, shapes) == ("flux2_klein" if family == "flux2" else family)


def test_ai_toolkit_style_keys_are_recognised():
    """ai-toolkit writes `diffusion_model.<its module path>`; the family comes from the names."""
    assert detect_family(["diffusion_model.layers.0.attention.to_q.lora_A.weight"], {}) == "zimage"
    assert (
        detect_family(["diffusion_model.transformer_blocks.0.img_mlp.net.2.lora_A.weight"], {})
        == "qwen_image"
    )
    bfl = {
        "diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight": (16, 3072),
        "diffusion_model.single_blocks.0.linear1.lora_B.weight": (9 * 3072, 16),
    }
    assert detect_family(list(bfl), {}, bfl) == "flux2_klein"
    flux1 = {
        "diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight": (16, 3072),
        "diffusion_model.single_blocks.0.linear1.lora_B.weight": (7 * 3072, 16),
    }
    assert detect_family(list(flux1), {}, flux1) == "flux"
    dev = {"diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight": (16, 6144)}
    assert detect_family(list(dev), {}, dev) == "flux2"
