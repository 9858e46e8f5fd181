"""`python -m isengard generate …` with a character, in both modes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from isengard.generation.metadata import read_png_text
from tests import photos
from tests.helpers import child_env, install_tiny, run_cli


def test_character_brings_its_lora_and_trigger_word(tmp_path):
    env = child_env(tmp_path)
    files = [str(p) for p in photos.good_set(tmp_path / "in")]
    assert (
        run_cli(["character", "create", "Gen Person", "--photos", *files, "--no-check"], env).returncode == 0
    )
    assert run_cli(["character", "create", "Untrained"], env).returncode == 0
    assert run_cli(["train", "Gen Person", "--base", "flux-dev", "--steps", "20"], env).returncode == 0
    result = run_cli(
        ["generate", "--character", "Gen Person", "--prompt", "portrait in a garden", "--json"], env
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    text = read_png_text(data["images"][0]["path"])["parameters"]
    assert text.startswith("gnprzx, portrait in a garden <lora:gen_person_flux_")
    untrained = run_cli(["generate", "--character", "Untrained", "--prompt", "x"], env)
    assert untrained.returncode == 5 and "has no trained LoRA yet" in untrained.stderr


@pytest.mark.slow
def test_production_generation_is_reproducible_from_the_seed(tmp_path, tiny_models):
    env = child_env(tmp_path, ISENGARD_MODE="production")
    install_tiny(tmp_path / "data", "sd15", tiny_models)
    args = [
        "generate",
        "--base",
        "tiny-sd15",
        "--prompt",
        "a red apple",
        "--seed",
        "5",
        "--steps",
        "3",
        "--sampler",
        "euler_a",
        "--json",
    ]
    first, second = (json.loads(run_cli(args, env, timeout=300).stdout) for _ in range(2))
    a, b = (np.asarray(Image.open(r["images"][0]["path"])) for r in (first, second))
    assert np.array_equal(a, b) and first["images"][0]["path"] != second["images"][0]["path"]
    assert "Sampler: Euler a" in read_png_text(first["images"][0]["path"])["parameters"]
