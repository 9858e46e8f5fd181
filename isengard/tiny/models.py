"""Tiny bases of every family: the real diffusers architectures at toy size with random weights, saved in
diffusers format, so they load with the same `from_pretrained` code as the real models. Each family's
builder is its own module (`isengard/tiny/<family>.py`); this one builds, marks and caches them. Their
weights (with VAEs pre-trained briefly, so that a LoRA trained on coloured photos visibly learns) ship in
the package and are loaded, never re-made, so every machine builds the same bits (`isengard/tiny/frozen.py`).
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

from isengard.tiny.flux import T5_MAX_LENGTH
from isengard.tiny.frozen import load_frozen, modules_of, weights_file
from isengard.tiny.vae import RESOLUTION

FAMILIES = ("flux", "sdxl", "sd15", "flux2_klein", "flux2", "zimage", "qwen_image")
MARKER = "isengard_tiny.json"
BUILD_VERSION = 5  # 5: weights loaded from the package (the same on every machine)
VAE_STEPS = 300  # how long `python -m isengard.tiny.freeze` pre-trains the VAEs it records


def is_built(folder: Path) -> bool:
    marker = Path(folder) / MARKER
    if not marker.exists():
        return False
    try:
        return json.loads(marker.read_text()).get("build_version") == BUILD_VERSION
    except ValueError:
        return False


def build_tiny_base(family: str, target: Path, *, progress=None) -> Path:
    """Build (once) the tiny base of `family` into `target` from the shipped weights; an existing build is
    reused. About a second per family on a 2-core CPU (`bench/tiny_build.py`)."""
    target = Path(target)
    if is_built(target):
        return target
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    import torch
    from safetensors.torch import save_file

    tmp = target.with_name(target.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    torch.manual_seed(0)
    say = progress or (lambda message: None)
    say(f"Building the tiny {family} model")
    builder = importlib.import_module(f"isengard.tiny.{family}")
    pipe = builder.build(vae_steps=0)  # the architecture, untrained: its weights come from the package
    extras = load_frozen(weights_file(family), modules_of(pipe))
    say(f"Saving the tiny {family} model")
    pipe.save_pretrained(tmp)
    for filename, tensors in extras.items():
        save_file(tensors, str(tmp / filename), metadata={"note": "tiny test weights"})
    for folder in ("text_encoder", "text_encoder_2"):
        clip_keys_for_every_reader(tmp / folder)
    (tmp / MARKER).write_text(
        json.dumps(
            {
                "family": family,
                "build_version": BUILD_VERSION,
                "resolution": RESOLUTION,
                "t5_max_length": T5_MAX_LENGTH,
                "note": "random weights: a test model, its pictures are not meant to look like anything",
            },
            indent=2,
        )
    )
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def clip_keys_for_every_reader(folder: Path) -> None:
    """Save CLIP text encoders with the `text_model.` prefix on their weights.

    transformers 5.24 writes CLIP checkpoints without that prefix; older readers (ai-toolkit's transformers
    5.5, ComfyUI) then find none of the weights and silently use a random text encoder. The prefixed
    layout is the one every version reads (5.24 maps it back on load).
    """
    weights = Path(folder) / "model.safetensors"
    config = Path(folder) / "config.json"
    if not weights.exists() or not config.exists():
        return
    if "CLIPText" not in " ".join(json.loads(config.read_text()).get("architectures") or []):
        return
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(weights), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {
            (
                key if key.startswith(("text_model.", "text_projection")) else f"text_model.{key}"
            ): handle.get_tensor(key)
            for key in handle.keys()  # noqa: SIM118 - a safetensors handle, not a dict
        }
    tmp = weights.with_name(".model.safetensors.tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(weights)


def tiny_info(folder: Path) -> dict:
    return json.loads((Path(folder) / MARKER).read_text())
