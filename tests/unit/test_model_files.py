"""What a model file is, from its tensor names alone — the newer families' diffusion models (ComfyUI's
split files), SDXL/SD 1.5 checkpoints, text encoders, VAEs — and where Settings looks for them."""

from __future__ import annotations

import torch
from safetensors.torch import save_file

from isengard.models.comfy_files import family_of_diffusion_model
from isengard.models.model_files import find, import_folders, role_of
from isengard.words import size_words

KLEIN = ["double_blocks.0.img_attn.qkv.weight", "single_stream_modulation.lin.weight", "txt_in.weight"]
ZIMAGE = [
    "layers.0.attention.qkv.weight",
    "noise_refiner.0.attention.qkv.weight",
    "context_refiner.0.ffn.w1.weight",
]
QWEN = ["img_in.weight", "txt_norm.weight", "transformer_blocks.0.img_mod.1.weight"]
TEXT = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight"]
VAE = ["encoder.conv_in.weight", "decoder.conv_out.weight"]


def test_the_family_of_a_diffusion_model_from_its_names():
    assert family_of_diffusion_model(KLEIN) == "flux2_klein"
    assert family_of_diffusion_model([*KLEIN, "guidance_in.in_layer.weight"]) == "flux2"  # [dev] is guided
    assert family_of_diffusion_model(["model.diffusion_model." + k for k in ZIMAGE]) == "zimage"
    assert family_of_diffusion_model(QWEN) == "qwen_image"
    assert family_of_diffusion_model([*QWEN, "txt_in.text_norm.weight"]) is None  # Qwen-Image 2.1: not this
    assert family_of_diffusion_model(["double_blocks.0.img_mod.lin.weight"]) is None  # FLUX.1


def test_what_a_file_holds():
    assert role_of(ZIMAGE) == ("diffusion_model", "zimage")
    assert role_of(["model.diffusion_model.input_blocks.0.0.weight", "conditioner.embedders.1.x"]) == (
        "checkpoint",
        "sdxl",
    )
    assert role_of(TEXT) == ("text_encoder", None)
    assert role_of(["first_stage_model." + k for k in VAE]) == ("vae", None)
    assert role_of(["lora_unet_x.lora_down.weight", "lora_unet_x.lora_up.weight"]) is None
    assert role_of(["model.layers.0.weight"]) is None


def test_settings_finds_the_files_kind_first_and_skips_what_is_not_a_model(tmp_path, settings):
    from isengard.paths import Paths

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, keys in (
        ("b_vae", VAE),
        ("a_encoder", TEXT),
        ("z_turbo", ZIMAGE),
        ("style_lora", ["lora_a.lora_up.weight"]),
    ):
        save_file({k: torch.zeros(2) for k in keys}, str(inbox / f"{name}.safetensors"))
    (inbox / "half_copied.safetensors").write_bytes(b"\x08\x00")
    found = find([inbox, tmp_path / "missing"])
    assert [f.role for f in found] == ["diffusion_model", "text_encoder", "vae"]
    assert found[0].label.startswith("Z-Image diffusion model: z_turbo.safetensors (")
    assert found[2].label.startswith("VAE: b_vae.safetensors")

    paths = Paths(settings.data_dir, settings.log_dir, settings.tmp_dir)
    assert import_folders(paths, settings) == [paths.base_models / "import"]
    from dataclasses import replace

    comfy = replace(settings, comfyui_lora_dir=tmp_path / "ComfyUI" / "models" / "loras")
    folders = import_folders(paths, comfy)
    assert tmp_path / "ComfyUI" / "models" / "diffusion_models" in folders
    assert tmp_path / "ComfyUI" / "models" / "text_encoders" in folders


def test_sizes_in_words():
    assert size_words(12_300_000_000) == "12.3 GB"
    assert size_words(230_000_000) == "230 MB"
    assert size_words(840_000) == "840 kB"
    assert size_words(None) == "size unknown"


def _reference(folder):
    import json

    (folder / "transformer").mkdir(parents=True)
    (folder / "transformer" / "config.json").write_text("{}")
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text("{}")
    index = {"_class_name": "ZImagePipeline", "transformer": ["diffusers", "ZImageTransformer2DModel"]}
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def test_a_full_disk_while_writing_the_model_leaves_nothing_and_says_so(tmp_path, monkeypatch):
    import errno

    import pytest
    import safetensors.torch

    from isengard.errors import StorageError
    from isengard.models.comfy_files import assemble

    reference = _reference(tmp_path / "reference")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    target = tmp_path / "models" / "custom-mine"
    target.parent.mkdir()
    with pytest.raises(StorageError, match="The disk is full"):
        assemble(reference, target, {"transformer": {"w": torch.zeros(2)}}, denoiser="transformer", say=print)
    assert list(target.parent.iterdir()) == []  # neither the model nor a half-written folder


def test_a_text_encoder_matches_by_its_names_with_or_without_its_wrapper():
    from isengard.models.comfy_files import convert_text_encoder, mismatch

    reference = {
        "embed_tokens.weight": (4, 2),
        "layers.0.self_attn.q_proj.weight": (2, 2),
        "norm.weight": (2,),
    }
    comfy = {"model.embed_tokens.weight": torch.zeros(4, 2), "model.layers.0.self_attn.q_proj.weight": torch.zeros(2, 2),
             "model.norm.weight": torch.zeros(2)}  # fmt: skip
    assert mismatch(convert_text_encoder(comfy, reference), reference) == ""
    bigger = comfy | {"model.layers.1.self_attn.q_proj.weight": torch.zeros(2, 2)}  # another model's depth
    assert "unexpected" in mismatch(convert_text_encoder(bigger, reference), reference)
    tied = {"model.embed_tokens.weight": (4, 2), "model.norm.weight": (2,), "lm_head.weight": (4, 2)}
    converted = convert_text_encoder(
        {"model.embed_tokens.weight": torch.ones(4, 2), "model.norm.weight": torch.ones(2)}, tied
    )
    assert mismatch(converted, tied) == "" and torch.equal(converted["lm_head.weight"], torch.ones(4, 2))
