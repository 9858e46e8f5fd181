"""`python -m isengard generate --backend comfyui …` against the fake ComfyUI server."""

from __future__ import annotations

import json

from isengard.generation.metadata import read_png_text
from tests.fake_comfyui import FakeComfyUI
from tests.helpers import child_env, run_cli


def test_generate_through_comfyui_from_the_cli(tmp_path):
    fake = FakeComfyUI().start()
    try:
        fake.add_model("checkpoints", "juggernautXL_v9.safetensors")
        env = child_env(tmp_path, ISENGARD_MODE="production", COMFYUI_URL=fake.url)
        doctor = json.loads(run_cli(["doctor", "--json"], env).stdout)
        comfy = next(p for p in doctor["plugins"] if p["name"] == "comfyui")
        assert comfy["available"] and "ComfyUI 0.3.64" in comfy["reason"]
        result = run_cli(
            [
                "generate",
                "--backend",
                "comfyui",
                "--base",
                "juggernautXL_v9.safetensors",  # the name ComfyUI shows
                "--prompt",
                "a castle",
                "--steps",
                "3",
                "--width",
                "64",
                "--height",
                "64",
                "--seed",
                "2",
                "--json",
            ],
            env,
        )
        assert result.returncode == 0, result.stderr
        image = json.loads(result.stdout)["images"][0]["path"]
        text = read_png_text(image)
        assert "Model: juggernautXL_v9," in text["parameters"]  # the checkpoint's own name, not an id
        assert "KSampler" in text["prompt"]
        fake.stop()
        down = run_cli(["generate", "--backend", "comfyui", "--prompt", "x"], env)
        assert down.returncode == 7 and "Cannot reach ComfyUI" in down.stderr
    finally:
        fake.stop()
