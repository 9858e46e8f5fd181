"""The configuration the project writes for single-file checkpoints: CLIP's tokenizer from the shipped
merges gives CLIP's own token ids, and the full-size SD 1.5 / SDXL layouts (built on the meta device, no
weights) give back the families' published configs."""

from __future__ import annotations

import pytest
import torch

from isengard.models import ldm_configs
from isengard.models.clip_tokenizer import VOCAB_SIZE, write_clip_tokenizer
from tests.ldm_export import _clip, _open_clip, _unet, _vae

# the published configs (runwayml/stable-diffusion-v1-5, stabilityai/stable-diffusion-xl-base-1.0)
SD15_UNET = {
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "sample_size": 64,
}
SDXL_UNET = {
    "block_out_channels": [320, 640, 1280],
    "layers_per_block": 2,
    "cross_attention_dim": 2048,
    "attention_head_dim": [5, 10, 20],
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "transformer_layers_per_block": [1, 2, 10],
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
    "sample_size": 128,
}
VAE = {
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "latent_channels": 4,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}


def test_clip_tokenizer_from_the_shipped_merges_gives_clips_ids(tmp_path):
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(write_clip_tokenizer(tmp_path / "t")))
    assert len(tokenizer) == VOCAB_SIZE == 49408
    # ids as openai/clip-vit-large-patch14 gives them
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tokenizer("A photo of an astronaut riding a horse").input_ids == [
        49406, 320, 1125, 539, 550, 18376, 6765, 320, 4558, 49407,
    ]  # fmt: skip
    padded = CLIPTokenizer.from_pretrained(str(write_clip_tokenizer(tmp_path / "t2", pad_token="!")))
    assert padded("cat", padding="max_length", max_length=5).input_ids == [49406, 2368, 49407, 0, 0]


def _shapes(state: dict) -> dict:
    return {key: tuple(value.shape) for key, value in state.items()}


@pytest.fixture(scope="module")
def full_size():
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    with torch.device("meta"):
        sd15 = UNet2DConditionModel(**SD15_UNET)
        sdxl = UNet2DConditionModel(**SDXL_UNET)
        vae = AutoencoderKL(**VAE)
        clip_l = CLIPTextModel(
            CLIPTextConfig(
                hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12
            )
        )
        clip_g = CLIPTextModelWithProjection(
            CLIPTextConfig(
                hidden_size=1280,
                intermediate_size=5120,
                num_hidden_layers=32,
                num_attention_heads=20,
                projection_dim=1280,
                hidden_act="gelu",
            )
        )
    vae_keys = _shapes(_vae(vae.state_dict(), dict(vae.config)))
    return {
        "sd15": {
            **_shapes(_unet(sd15.state_dict(), dict(sd15.config))),
            **vae_keys,
            **_shapes(_clip(clip_l.state_dict(), "cond_stage_model.transformer.")),
        },
        "sdxl": {
            **_shapes(_unet(sdxl.state_dict(), dict(sdxl.config))),
            **vae_keys,
            **_shapes(_clip(clip_l.state_dict(), "conditioner.embedders.0.transformer.")),
            **_shapes(_open_clip(clip_g.state_dict(), "conditioner.embedders.1.model.")),
        },
    }


@pytest.mark.parametrize(("family", "published"), [("sd15", SD15_UNET), ("sdxl", SDXL_UNET)])
def test_full_size_layouts_give_the_published_configs(full_size, family, published):
    shapes = full_size[family]
    unet = ldm_configs.unet_config(family, shapes)
    assert {k: unet[k] for k in published} == published
    vae = ldm_configs.vae_config(family, shapes)
    assert {k: vae[k] for k in VAE} == VAE
    assert vae["scaling_factor"] == (0.18215 if family == "sd15" else 0.13025)
    prefix = ldm_configs.SD15_CLIP if family == "sd15" else ldm_configs.SDXL_CLIP
    clip = ldm_configs.clip_config(shapes, prefix)
    assert (clip.hidden_size, clip.num_attention_heads, clip.num_hidden_layers, clip.hidden_act) == (
        768, 12, 12, "quick_gelu",
    )  # fmt: skip
    if family == "sdxl":
        big_g = ldm_configs.open_clip_config(shapes)
        assert (big_g.hidden_size, big_g.num_attention_heads, big_g.num_hidden_layers) == (1280, 20, 32)
        assert (big_g.intermediate_size, big_g.projection_dim, big_g.hidden_act) == (5120, 1280, "gelu")


def test_a_layout_that_is_not_the_familys_is_refused(full_size):
    shapes = {k: v for k, v in full_size["sdxl"].items() if "label_emb" not in k}
    with pytest.raises(ldm_configs.LayoutError):
        ldm_configs.unet_config("sdxl", shapes)
    with pytest.raises(ldm_configs.LayoutError):
        ldm_configs.vae_config("sd15", {k: v for k, v in full_size["sd15"].items() if "first_stage" not in k})
