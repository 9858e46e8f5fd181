"""Tiny bases of every family: the real diffusers architectures at toy size, random weights, built
deterministically and saved in diffusers format, so they load with the same `from_pretrained` code as the
real models. Each family's builder is its own module (`isengard/tiny/<family>.py`); this one builds,
marks and caches them. The VAEs are pre-trained briefly (see `isengard/tiny/vae.py`) so that a LoRA trained
on coloured photos visibly learns.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

from isengard.tiny.flux import T5_MAX_LENGTH
from isengard.tiny.vae import RESOLUTION

FAMILIES = ("flux", "sdxl", "sd15", "flux2_klein", "flux2", "zimage", "qwen_image")
MARKER = "isengard_tiny.json"
BUILD_VERSION = 4  # 4: CLIP weights keep their text_model. prefix
VAE_STEPS = 300


def is_built(folder: Path) -> bool:
    marker = Path(folder) / MARKER
    if not marker.exists():
        return False
    try:
        return json.loads(marker.read_text()).get("build_version") == BUILD_VERSION
    except ValueError:
        return False


def build_tiny_base(
    family: str, target: Path, *, vae_steps: int = VAE_STEPS, progress=None, on_step=None
) -> Path:
    """Build (once) the tiny base of `family` into `target`; an existing build is reused. `on_step(step,
    total)` hears how far the VAE pre-training (most of the time) has got."""
    target = Path(target)
    if is_built(target):
        return target
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    import torch

    tmp = target.with_name(target.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    torch.manual_seed(0)
    say = progress or (lambda message: None)
    say(f"Building the tiny {family} model (its VAE trains for {vae_steps} steps)")
    builder = importlib.import_module(f"isengard.tiny.{family}")
    from isengard.tiny.vae import ON_STEP

    token = ON_STEP.set(on_step)
    try:
        pipe = builder.build(vae_steps)
    finally:
        ON_STEP.reset(token)
    say(f"Saving the tiny {family} model")
    pipe.save_pretrained(tmp)
    if hasattr(builder, "write_extras"):
        builder.write_extras(pipe, tmp)
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
