"""Model files a person can bring in from the studio (Settings → Your own base models): the `.safetensors`
in the data folder's drop-in folder and in ComfyUI's `models` folder, each named for what it is — a
diffusion model of a newer family, an SDXL/SD 1.5 checkpoint, a text encoder or a VAE — read from the
file's header alone (a few kilobytes, however large the file)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from isengard.models import comfy_files
from isengard.models.single_file import family_of_checkpoint
from isengard.words import size_words

# ComfyUI's model folders for each part (the older names still used by many installs)
COMFY_FOLDERS = ("diffusion_models", "unet", "checkpoints", "text_encoders", "clip", "vae")
ROLES = {
    "diffusion_model": "diffusion model",
    "checkpoint": "checkpoint",
    "text_encoder": "text encoder",
    "vae": "VAE",
}
CHECKPOINT_LABELS = {"sdxl": "SDXL", "sd15": "SD 1.5"}


@dataclass(frozen=True)
class ModelFile:
    path: Path
    size: int
    role: str  # a key of ROLES
    family: str | None = None

    @property
    def label(self) -> str:
        kind = comfy_files.LABELS.get(self.family or "") or CHECKPOINT_LABELS.get(self.family or "", "")
        what = f"{kind} {ROLES[self.role]}".strip()
        return f"{what[0].upper()}{what[1:]}: {self.path.name} ({size_words(self.size)})"  # the kind first: phones cut the end


def import_folders(paths, settings) -> list[Path]:
    """The drop-in folder (made if missing), then ComfyUI's model folders when Isengard knows where they are:
    COMFYUI_MODELS_DIR, or the folder above COMFYUI_LORA_DIR when that is ComfyUI's `models/loras`."""
    inbox = paths.base_models / "import"
    with contextlib.suppress(OSError):  # a read-only data folder: nothing to offer from it, no failure
        inbox.mkdir(parents=True, exist_ok=True)
    comfy = settings.comfyui_models_dir
    if (
        comfy is None
        and settings.comfyui_lora_dir is not None
        and Path(settings.comfyui_lora_dir).name == "loras"
    ):
        comfy = Path(settings.comfyui_lora_dir).parent
    return [inbox, *([Path(comfy) / name for name in COMFY_FOLDERS] if comfy else [])]


def role_of(names: list[str]) -> tuple[str, str | None] | None:
    """What a file holds, from its tensor names; None for anything else (a LoRA, an upscaler…)."""
    family = comfy_files.family_of_diffusion_model(names)
    if family:
        return "diffusion_model", family
    family = family_of_checkpoint(names)
    if family in CHECKPOINT_LABELS:
        return "checkpoint", family
    if any("lora" in n for n in names[:50]):
        return None
    if any("self_attn." in n for n in names) and any(n.endswith("embed_tokens.weight") for n in names):
        return "text_encoder", None
    plain = [
        comfy_files.strip_prefix(n).removeprefix("vae.").removeprefix("first_stage_model.") for n in names
    ]
    if any(n.startswith("encoder.") for n in plain) and any(n.startswith("decoder.") for n in plain):
        return "vae", None
    return None


def describe(path: Path) -> ModelFile | None:
    """What one file is, from its header; None for anything else (or a broken, partly copied file)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            names = list(handle.keys())
    except Exception:  # a broken or partly copied file is simply not offered
        return None
    role = role_of(names)
    return ModelFile(path, path.stat().st_size, *role) if role else None


def find(folders: list[Path]) -> list[ModelFile]:
    """The model files in `folders` (not their subfolders), diffusion models and checkpoints first."""
    found = [
        described
        for folder in folders
        if folder.is_dir()
        for path in sorted(folder.glob("*.safetensors"))
        if (described := describe(path)) is not None
    ]
    order = list(ROLES)
    return sorted(found, key=lambda f: (order.index(f.role), f.path.name.lower()))
