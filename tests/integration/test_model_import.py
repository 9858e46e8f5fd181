"""Your own base model: a single-file SD 1.5 checkpoint (the Civitai habit) imported, detected and used."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.helpers import child_env, install_tiny, run_cli, solid_photos
from tests.ldm_export import export_sd15_single_file

pytestmark = pytest.mark.slow


def test_single_file_checkpoint_imports_detects_its_family_and_trains(tmp_path, tiny_models):
    from diffusers import StableDiffusionPipeline

    tiny = install_tiny(tmp_path / "tiny-src", "sd15", tiny_models)
    checkpoint = export_sd15_single_file(tiny, tmp_path / "myModel_v1.safetensors")
    env = child_env(tmp_path, ISENGARD_MODE="production")
    result = run_cli(
        ["models", "import", str(checkpoint), "--name", "My Model", "--config", str(tiny), "--json"],
        env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout)
    assert imported["family"] == "sd15" and imported["id"] == "custom-my-model"

    # the converted folder gives exactly the pictures of the model it was made from
    def picture(pipe):
        pipe.set_progress_bar_config(disable=True)
        return np.asarray(
            pipe(
                "a photo",
                num_inference_steps=3,
                height=64,
                width=64,
                generator=torch.Generator().manual_seed(0),
            ).images[0]
        )

    assert np.array_equal(
        picture(StableDiffusionPipeline.from_pretrained(imported["path"])),
        picture(StableDiffusionPipeline.from_pretrained(str(tiny))),
    )
    listed = json.loads(run_cli(["models", "list", "--json"], env).stdout)["models"]
    mine = next(m for m in listed if m["id"] == "custom-my-model")
    assert mine["custom"] and mine["status"] == "ready"

    created = run_cli(
        [
            "character",
            "create",
            "Own Base",
            "--no-check",
            "--photos",
            *map(str, solid_photos(tmp_path / "p")),
        ],
        env,
    )
    assert created.returncode == 0
    trained = run_cli(
        [
            "train",
            "Own Base",
            "--base",
            "custom-my-model",
            "--preset",
            "sd15",
            "--steps",
            "4",
            "--resolution",
            "64",
            "--json",
        ],
        env,
        timeout=300,
    )
    assert trained.returncode == 0, trained.stderr
    meta_hash = json.loads(trained.stdout)["lora_path"]
    from plugins.lora_format import read_lora_info

    info = read_lora_info(meta_hash)
    assert (
        info.metadata["isengard_base_model"] == "custom-my-model"
        and len(info.metadata["isengard_base_model_sha256"]) == 64
    )


def test_bad_imports_are_refused_clearly(tmp_path, tiny_models):
    env = child_env(tmp_path)
    text = tmp_path / "notes.safetensors"
    text.write_text("not a checkpoint")
    ckpt = tmp_path / "old.ckpt"
    ckpt.write_bytes(b"pickle")
    cases = [
        (str(tmp_path / "missing.safetensors"), "does not exist"),
        (str(text), "is not a readable .safetensors file"),
        (str(ckpt), ".ckpt files can run code"),
        (str(tmp_path), "is not a diffusers model folder"),
    ]
    for path, message in cases:
        result = run_cli(["models", "import", path], env)
        assert result.returncode == 5 and message in result.stderr, (path, result.stderr)
    install_tiny(tmp_path / "data", "flux", tiny_models)
    from safetensors.torch import save_file

    lora = tmp_path / "some_lora.safetensors"
    save_file({"lora_unet_x.lora_down.weight": torch.zeros(2, 2)}, str(lora))
    result = run_cli(["models", "import", str(lora)], env)
    assert result.returncode == 5 and "SDXL and SD 1.5 checkpoints" in result.stderr
