"""ComfyUI's split files import offline: a Z-Image, FLUX.2 [klein] or Qwen-Image diffusion model (with its
text encoder and VAE, or without them) becomes a diffusers model whose weights are exactly those of the
model the files were written from, with the family read from the weights and the settings of the
catalogue model it fits. The files are the tiny models written in ComfyUI's layout (`tests/comfy_export`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.comfy_export import export_split_files
from tests.helpers import child_env, install_tiny, run_cli

pytestmark = pytest.mark.slow


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    ("family", "prefix", "given", "fits"),
    [
        ("zimage", "", ("text_encoder", "vae"), "Tiny Z-Image Turbo"),
        ("flux2_klein", "", ("text_encoder", "vae"), "Tiny FLUX.2 [klein]"),
        ("qwen_image", "model.diffusion_model.", ("text_encoder",), "Tiny Qwen-Image"),
    ],
)
def test_split_files_import_as_the_model_they_came_from(tmp_path, tiny_models, family, prefix, given, fits):
    from diffusers import DiffusionPipeline

    tiny = install_tiny(tmp_path / "data", family, tiny_models)
    files = export_split_files(tiny, tmp_path / "comfy", family, prefix=prefix)
    extra = [arg for part in given for arg in (f"--{part.replace('_', '-')}", str(files[part]))]
    env = child_env(tmp_path, ISENGARD_MODE="production")
    result = run_cli(
        ["models", "import", str(files["diffusion_model"]), "--name", "From Comfy", *extra, "--json"],
        env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout)
    assert imported["family"] == family and imported["id"] == "custom-from-comfy"
    assert f"made like {fits}" in imported["description"]
    folder = tmp_path / "data" / "models" / "base" / "custom-from-comfy"
    assert imported["path"] == str(folder)
    ours, theirs = (
        DiffusionPipeline.from_pretrained(str(folder)),
        DiffusionPipeline.from_pretrained(str(tiny)),
    )
    assert type(ours) is type(theirs)  # loads as the family's pipeline
    for sub in ("transformer", "text_encoder", "vae"):  # given or the family's own: the same weights
        assert _same(getattr(ours, sub).state_dict(), getattr(theirs, sub).state_dict()), sub

    listed = json.loads(run_cli(["models", "list", "--json"], env).stdout)["models"]
    mine = next(m for m in listed if m["id"] == "custom-from-comfy")
    assert mine["status"] == "ready" and mine["family"] == family


def test_an_imported_z_image_makes_the_same_pictures_and_keeps_its_settings(tmp_path, tiny_models):
    from diffusers import ZImagePipeline

    from isengard.context import bootstrap
    from tests.helpers import make_settings

    tiny = install_tiny(tmp_path / "data", "zimage", tiny_models)
    files = export_split_files(tiny, tmp_path / "comfy", "zimage", prefix="model.diffusion_model.")
    env = child_env(tmp_path, ISENGARD_MODE="production")
    studio = bootstrap(make_settings(tmp_path, mode="production"), console=False)  # a studio already running
    try:
        args = ["--text-encoder", str(files["text_encoder"]), "--vae", str(files["vae"])]
        args += ["--like", "tiny-zimage-turbo"]
        made = run_cli(
            ["models", "import", str(files["diffusion_model"]), "--name", "Zed", *args, "--json"], env
        )
        assert made.returncode == 0, made.stderr

        def picture(path):
            pipe = ZImagePipeline.from_pretrained(str(path))
            pipe.set_progress_bar_config(disable=True)
            generator = torch.Generator().manual_seed(0)
            out = pipe("a photo", num_inference_steps=2, height=64, width=64, generator=generator)
            return np.asarray(out.images[0])

        assert np.array_equal(picture(json.loads(made.stdout)["path"]), picture(tiny))
        # the running studio sees it once it looks again (a tab opened), with the settings of the catalogue
        # model it fits: Turbo's few steps, its training adapter, its licence named
        assert "custom-zed" not in studio.catalogue.ids()
        studio.models.refresh_custom()
        model = studio.catalogue.get("custom-zed")
        assert model.default_steps == 4 and model.training_adapter == "tiny"
        assert "Apache-2.0" in model.licence_note and "Tiny Z-Image Turbo" in model.licence_note
        removed = run_cli(["models", "remove", "custom-zed", "--yes"], env)
        assert removed.returncode == 0, removed.stderr
        studio.models.refresh_custom()
        assert "custom-zed" not in studio.catalogue.ids()
    finally:
        studio.close()


def test_split_files_that_do_not_fit_are_refused_clearly(tmp_path, tiny_models):
    from safetensors.torch import save_file

    tiny = install_tiny(tmp_path / "data", "zimage", tiny_models)
    files = export_split_files(tiny, tmp_path / "comfy", "zimage")
    klein = export_split_files(
        install_tiny(tmp_path / "data", "flux2_klein", tiny_models), tmp_path / "k", "flux2_klein"
    )
    env = child_env(tmp_path)
    dm = str(files["diffusion_model"])
    cases = [
        # another family's text encoder
        (["--text-encoder", str(klein["text_encoder"])], "is not the text encoder"),
        # a VAE of another layout and size
        (["--vae", str(klein["vae"])], "The VAE file does not fit this model"),
        (["--like", "tiny-qwen-image"], "is not a Z-Image model"),
        (["--vae", str(tmp_path / "missing.safetensors")], "does not exist"),
    ]
    for extra, message in cases:
        result = run_cli(["models", "import", dm, *extra], env)
        assert result.returncode == 5 and message in result.stderr, (extra, result.stderr)
    # a Z-Image of sizes no known model has
    tensors = load_file(dm)
    tensors = {
        k: (torch.zeros(v.shape[0] * 2, *v.shape[1:]) if k.endswith("qkv.weight") else v)
        for k, v in tensors.items()
    }
    odd = tmp_path / "odd.safetensors"
    save_file(tensors, str(odd))
    result = run_cli(["models", "import", str(odd)], env)
    assert result.returncode == 7 and "does not match the sizes of any Z-Image model" in result.stderr
    # a newer family Isengard does not train (Qwen-Image 2.1: its text norm inside `txt_in`)
    newer = tmp_path / "qwen_image_2_1.safetensors"
    names = (
        "img_in.weight",
        "txt_norm.weight",
        "txt_in.text_norm.weight",
        "transformer_blocks.0.img_mod.1.weight",
    )
    save_file({name: torch.zeros(2) for name in names}, str(newer))
    result = run_cli(["models", "import", str(newer)], env)
    assert result.returncode == 5 and "Z-Image, FLUX.2 and Qwen-Image diffusion models" in result.stderr
    assert not list((tmp_path / "data" / "models" / "base").glob("custom-*")), "nothing half-made is left"
