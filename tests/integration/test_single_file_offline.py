"""Single-file SD 1.5 and SDXL checkpoints import with no internet and no `--config`: the project writes
the configuration from the file's shapes and the family's constants. The checkpoints are small models
built here the way the families build theirs (32 norm groups, SD 1.5's 8 heads, 64-wide heads elsewhere,
CLIP's real 49,408-token vocabulary), written in the original single-file layout; the imported folder must
give exactly the pictures of the model it came from. Then `models remove` deletes what import made."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.helpers import child_env, run_cli
from tests.ldm_export import export_single_file, single_file_tensors

pytestmark = pytest.mark.slow


def _clip(hidden: int, *, projection: bool, act: str):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=49408,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=hidden // 64,
        max_position_embeddings=77,
        projection_dim=hidden,
        hidden_act=act,
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
    )
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config).eval()


def _pipeline(family: str, tmp_path):
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        PNDMScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTokenizer

    from isengard.models.clip_tokenizer import write_clip_tokenizer
    from isengard.models.ldm_configs import SCHEDULERS

    torch.manual_seed(3)
    tokenizer = CLIPTokenizer.from_pretrained(str(write_clip_tokenizer(tmp_path / "tok")))
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1,
        scaling_factor=0.18215 if family == "sd15" else 0.13025,
    ).eval()
    if family == "sd15":
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=64,
            attention_head_dim=8,
        ).eval()
        return StableDiffusionPipeline(
            vae=vae,
            text_encoder=_clip(64, projection=False, act="quick_gelu"),
            tokenizer=tokenizer,
            unet=unet,
            scheduler=PNDMScheduler.from_config(SCHEDULERS[family]),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    tokenizer_2 = CLIPTokenizer.from_pretrained(str(write_clip_tokenizer(tmp_path / "tok2", pad_token="!")))
    unet = UNet2DConditionModel(
        block_out_channels=(64, 128),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(1, 2),
        transformer_layers_per_block=(1, 2),
        use_linear_projection=True,
        cross_attention_dim=64 + 128,  # both text encoders' widths, side by side
        addition_embed_type="text_time",
        addition_time_embed_dim=32,
        projection_class_embeddings_input_dim=6 * 32 + 128,
    ).eval()
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=_clip(64, projection=False, act="quick_gelu"),
        # wider than the first, as in SDXL (768 and 1280): diffusers tells the two encoders apart by width
        text_encoder_2=_clip(128, projection=True, act="gelu"),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=EulerDiscreteScheduler.from_config(SCHEDULERS[family]),
    )


def _picture(pipe):
    pipe.set_progress_bar_config(disable=True)
    image = pipe(
        "a photo of a cat",
        num_inference_steps=2,
        height=64,
        width=64,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).images[0]
    return np.asarray(image)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_single_file_checkpoint_imports_offline_without_config(tmp_path, family):
    from diffusers import DiffusionPipeline

    pipe = _pipeline(family, tmp_path)
    checkpoint = export_single_file(pipe, tmp_path / f"civitai_{family}_v2.safetensors")
    env = child_env(tmp_path, ISENGARD_MODE="production", HF_HUB_OFFLINE="1")
    result = run_cli(["models", "import", str(checkpoint), "--name", f"Mine {family}", "--json"], env, 300)
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout)
    assert imported["family"] == family

    converted = DiffusionPipeline.from_pretrained(imported["path"])
    assert type(converted) is type(pipe)
    assert type(converted.scheduler) is type(pipe.scheduler)
    np.testing.assert_allclose(_picture(converted), _picture(pipe), atol=1e-5)

    # remove: refuses without a terminal, says what it deletes, then deletes only what import made
    refused = run_cli(["models", "remove", imported["id"]], env)
    assert refused.returncode == 5
    assert "deletes its converted copy" in refused.stderr and "--yes" in refused.stderr
    removed = run_cli(["models", "remove", imported["id"], "--yes", "--json"], env)
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout)["deleted"] == [imported["path"]]
    from pathlib import Path

    assert not Path(imported["path"]).exists()
    listed = json.loads(run_cli(["models", "list", "--json"], env).stdout)["models"]
    assert imported["id"] not in {m["id"] for m in listed}
    assert checkpoint.exists()  # the user's own file is never touched


def test_checkpoint_of_another_layout_asks_for_config(tmp_path):
    """A checkpoint whose tensors are not the family's layout: exit 7 (not available) and the --config hint."""
    from safetensors.torch import save_file

    tensors = single_file_tensors(_pipeline("sd15", tmp_path))
    odd = {k: v for k, v in tensors.items() if not k.startswith("first_stage_model.")}  # no VAE inside
    path = tmp_path / "no_vae.safetensors"
    save_file({k: v.contiguous() for k, v in odd.items()}, str(path))
    env = child_env(tmp_path, ISENGARD_MODE="production")
    result = run_cli(["models", "import", str(path), "--json"], env, 300)
    assert result.returncode == 7, result.stderr
    assert "not laid out like a standard SD 1.5 checkpoint" in result.stderr
    assert "--config" in result.stderr
    assert json.loads(result.stdout)["error"]
