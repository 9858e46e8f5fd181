"""Presets by GPU memory, tooltips for every setting, the token store, the model manager."""

from __future__ import annotations

import stat
from dataclasses import fields

import pytest

from isengard.errors import InputError, NotAvailableError
from isengard.models.catalogue import load_catalogue
from isengard.models.single_file import family_of_checkpoint
from isengard.models.tokens import TokenStore, mask
from isengard.training.presets import lighter_than, load_presets, recommend
from plugins.training.interface import TrainingParams


def test_every_preset_is_valid_and_has_a_description():
    presets = load_presets()
    families = {p.family for p in presets}
    assert {"flux", "sdxl", "sd15"} <= families
    assert {p.vram_gb for p in presets if p.family == "flux"} == {12, 16, 24, 48, 80}
    assert {p.vram_gb for p in presets if p.family == "sdxl"} == {8, 12, 24}
    for preset in presets:
        assert preset.description and preset.label
        assert isinstance(preset.training_params(), TrainingParams)


@pytest.mark.parametrize(
    ("family", "vram", "expected", "reason"),
    [
        ("flux", 23.6, "flux-24gb", "Your GPU has 24 GB"),
        ("flux", 79.1, "flux-80gb", "the FLUX · 80 GB GPU preset"),
        ("flux", 8.0, "flux-12gb", "may run out of memory"),
        ("sdxl", 7.5, "sdxl-8gb", "largest that fits"),  # an 8 GB card as it reports itself
        ("sdxl", 10.0, "sdxl-24gb", "about 8 GB"),  # the memory model: batch 2 at 1024 px needs ~8 GB
        ("sd15", 6.0, "sd15", "largest that fits"),
        ("flux", None, "flux-12gb", "no graphics card"),
    ],
)
def test_preset_is_picked_from_the_gpu_with_a_reason(family, vram, expected, reason):
    preset, why = recommend(load_presets(), family, tiny=False, vram_gb=vram)
    assert preset.id == expected and reason in why


def test_tiny_models_get_the_cpu_preset_and_oom_advice_names_a_lighter_one():
    presets = load_presets()
    assert recommend(presets, "sdxl", tiny=True, vram_gb=None)[0].id == "tiny-cpu"
    assert lighter_than(presets, "flux-24gb").id == "flux-16gb"
    assert lighter_than(presets, "flux-12gb") is None


def test_every_training_setting_has_a_label_and_plain_help():
    for field in fields(TrainingParams):
        assert field.metadata.get("label"), field.name
        assert len(field.metadata.get("help", "")) > 20, field.name


def test_bad_training_values_are_refused_with_the_setting_name():
    preset = load_presets()[0]
    with pytest.raises(InputError, match="Training steps must be a whole number between 1 and 100,000"):
        preset.training_params(steps=0)
    with pytest.raises(InputError, match="Optimizer must be one of"):
        preset.training_params(optimizer="sgd")
    with pytest.raises(InputError, match="Unknown training setting"):
        preset.training_params(use_dora=True)


def test_token_store_keeps_the_token_private(tmp_path):
    store = TokenStore(tmp_path / "secrets", env_token=None)
    assert store.get() is None and mask(None) == "not set"
    with pytest.raises(InputError, match="does not look like a Hugging Face token"):
        store.set("not-a-token")
    token = "hf_" + "A" * 34
    assert store.set(token) == "hf_…AAAA"
    assert store.get() == token and store.source == "the Settings panel"
    assert stat.S_IMODE(store.file.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.file.parent.stat().st_mode) == 0o700
    verdict = store.check("black-forest-labs/FLUX.1-dev")  # tests run offline
    assert not verdict.ok and "Could not reach huggingface.co" in verdict.message
    store.clear()
    assert store.get() is None
    assert TokenStore(tmp_path / "s2", env_token=token).source == "the HF_TOKEN environment variable"


def test_gated_model_without_a_token_is_a_clear_error(app_ctx):
    flux = app_ctx.catalogue.get("flux-dev")
    assert "needs a Hugging Face token" in app_ctx.models.status(flux)
    with pytest.raises(NotAvailableError, match=r"FLUX.1 \[dev\] is gated") as err:
        app_ctx.models.check_access(flux)
    assert "huggingface.co/settings/tokens" in str(err.value)


def test_catalogue_and_checkpoint_family_detection():
    ids = [m.id for m in load_catalogue()]
    assert {"flux-dev", "sdxl-base", "sd15", "tiny-flux", "tiny-sdxl", "tiny-sd15"} <= set(ids)
    assert family_of_checkpoint(["model.diffusion_model.double_blocks.0.img_attn.qkv.weight"]) == "flux"
    assert family_of_checkpoint(["conditioner.embedders.1.model.ln_final.weight"]) == "sdxl"
    assert family_of_checkpoint(["cond_stage_model.transformer.text_model.final_layer_norm.weight"]) == "sd15"
    assert family_of_checkpoint(["something.else"]) is None
