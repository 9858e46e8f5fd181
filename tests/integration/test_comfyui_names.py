"""A ComfyUI server's checkpoints by the names the server shows (against the recorded /object_info)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from isengard.errors import InputError
from isengard.generation.service import GenerateForm
from tests.helpers import child_env, run_cli
from tests.integration.test_comfyui import comfy_ctx, fake  # noqa: F401 - the fake server and its studio


def test_a_plain_file_name_picks_the_servers_checkpoint_and_names_it_in_the_png(comfy_ctx):  # noqa: F811
    job_id, prepared = comfy_ctx.generation.submit(
        GenerateForm(
            prompt="a boat",
            backend="comfyui",
            base_model="juggernautXL_v9.safetensors",
            steps=2,
            width=64,
            height=64,
            seed=3,
        )
    )
    assert (
        prepared.model.id == "comfyui:checkpoints/juggernautXL_v9.safetensors"
        and prepared.model.family == "sdxl"
    )
    job = comfy_ctx.runner.wait(job_id, 60)
    assert job.status == "succeeded", job.error
    text = Image.open(job.result["images"][0]["path"]).text["parameters"]
    assert "Model: juggernautXL_v9" in text and "comfyui:" not in text


def test_the_default_base_for_comfyui_is_one_of_the_servers_own(comfy_ctx):  # noqa: F811
    _, prepared = comfy_ctx.generation.submit(GenerateForm(prompt="a boat", backend="comfyui", steps=2))
    assert prepared.model.id.startswith("comfyui:checkpoints/")  # not the tiny FLUX the server cannot run


def test_an_unknown_name_lists_what_the_server_has(comfy_ctx):  # noqa: F811
    with pytest.raises(InputError) as err:
        comfy_ctx.generation.submit(
            GenerateForm(prompt="x", backend="comfyui", base_model="nope.safetensors")
        )
    assert "juggernautXL_v9.safetensors" in str(err.value) and "flux1-dev.safetensors" in str(err.value)


def test_a_server_with_nothing_runnable_says_what_it_has(comfy_ctx, fake):  # noqa: F811
    backend = comfy_ctx.registry.get("image", "comfyui")
    backend.base_models = lambda: []  # a server with an empty models folder
    with pytest.raises(InputError, match="has no model Isengard can run"):
        comfy_ctx.generation.submit(GenerateForm(prompt="x", backend="comfyui"))


def test_models_list_shows_the_servers_checkpoints_with_folder_and_family(fake, tmp_path):  # noqa: F811
    env = child_env(tmp_path, COMFYUI_URL=fake.url)
    result = run_cli(["models", "list", "--json"], env)
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in json.loads(result.stdout)["models"]}
    assert rows["juggernautXL_v9.safetensors"]["family"] == "sdxl"
    assert rows["juggernautXL_v9.safetensors"]["folder"] == "checkpoints"
    assert rows["flux1-dev.safetensors"]["folder"] == "diffusion_models"
