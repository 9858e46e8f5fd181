"""The tiny bases are read the same by every transformers version: CLIP weights keep `text_model.`."""

from __future__ import annotations

import pytest
from safetensors import safe_open

from isengard.tiny.models import build_tiny_base

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("family", "encoders"),
    [("sd15", ["text_encoder"]), ("sdxl", ["text_encoder", "text_encoder_2"]), ("flux", ["text_encoder"])],
)
def test_clip_weights_carry_the_prefix_and_a_fresh_load_misses_nothing(tiny_models, family, encoders):
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    folder = build_tiny_base(family, tiny_models / f"tiny-{family}")
    for name in encoders:
        with safe_open(str(folder / name / "model.safetensors"), framework="pt") as handle:
            keys = list(handle.keys())
        assert keys and all(k.startswith(("text_model.", "text_projection")) for k in keys), keys[:3]
        cls = CLIPTextModelWithProjection if name == "text_encoder_2" else CLIPTextModel
        model, info = cls.from_pretrained(folder / name, output_loading_info=True)
        assert not info["missing_keys"] and not info["unexpected_keys"], info
        with safe_open(str(folder / name / "model.safetensors"), framework="pt") as handle:
            stored = handle.get_tensor("text_model.embeddings.token_embedding.weight")
        loaded = next(v for k, v in model.state_dict().items() if k.endswith("token_embedding.weight"))
        assert (loaded == stored).all()  # the stored weights, not a random initialisation
