"""Single-file checkpoints (the Civitai habit): which family a file is, and its conversion to a diffusers
folder — offline, with the configuration the project writes from the file's own tensor shapes
(`ldm_configs`), or with a diffusers folder/repo the user names with `--config`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from isengard.errors import InputError, NotAvailableError
from isengard.obs import event

CONFIG_HINT = (
    "If it is an unusual variant, import it with --config and a diffusers folder (or hub repo) of the same "
    "layout: python -m isengard models import FILE --config FOLDER."
)


def family_of_checkpoint(keys: list[str]) -> str | None:
    """A single-file checkpoint's family from its tensor names (ldm/sgm layouts, as on Civitai)."""
    joined = "\n".join(keys[:5000])
    if "double_blocks." in joined or "single_blocks." in joined:
        return "flux"
    if "conditioner.embedders.1" in joined or "add_embedding" in joined or "label_emb.0" in joined:
        return "sdxl"
    if "cond_stage_model.model." in joined:
        return "sd2"  # OpenCLIP text encoder: Stable Diffusion 2.x, which Isengard does not train
    if "cond_stage_model.transformer" in joined or "model.diffusion_model.input_blocks" in joined:
        return "sd15"
    return None


def read_shapes(source: Path) -> dict[str, tuple]:
    from safetensors import safe_open

    if source.suffix != ".safetensors":
        raise InputError("Only .safetensors checkpoints can be imported (.ckpt files can run code).")
    try:
        with safe_open(str(source), framework="pt") as handle:
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118
    except Exception as exc:
        raise InputError(f"{source.name} is not a readable .safetensors file ({exc}).") from None


def checkpoint_family(source: Path, family: str | None) -> tuple[str, dict[str, tuple]]:
    shapes = read_shapes(source)
    detected = family_of_checkpoint(list(shapes))
    family = family or detected
    if family in ("sdxl", "sd15"):
        return family, shapes
    because = {
        "flux": " (this one looks like FLUX: use its diffusers folder instead).",
        "sd2": " (this one looks like Stable Diffusion 2, which Isengard does not support).",
    }
    raise InputError(
        "Single-file import supports SDXL and SD 1.5 checkpoints, and Z-Image, FLUX.2 and Qwen-Image diffusion "
        "models as ComfyUI keeps them" + because.get(detected, ".")
    )


def convert(
    source: Path, target: Path, *, family: str, shapes: dict, config: str | None, progress=None
) -> None:
    """Write the diffusers folder for `source` at `target` (atomically: built beside it, then renamed)."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    from isengard.models.ldm_configs import LayoutError, write_config_folder

    cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    label = "SDXL" if family == "sdxl" else "SD 1.5"
    if progress:
        progress(message=f"Converting {source.name} to a diffusers folder")
    with tempfile.TemporaryDirectory(prefix="isengard-config-") as scratch:
        if config is None:
            try:
                config = str(write_config_folder(family, shapes, Path(scratch) / "config"))
            except LayoutError as exc:
                event("model.import_layout", f"{source.name}: {exc}", level="WARNING", family=family)
                raise NotAvailableError(
                    f"{source.name} is not laid out like a standard {label} checkpoint, so Isengard has no "
                    "configuration for it.",
                    hint=CONFIG_HINT,
                ) from None
        kwargs: dict[str, Any] = {"config": config, "local_files_only": Path(config).is_dir()}
        if family == "sd15":
            kwargs.update(safety_checker=None, requires_safety_checker=False)
        try:
            pipe = cls.from_single_file(str(source), **kwargs)
        except Exception as exc:
            event("model.import_failed", f"{source.name}: {exc!r}", level="WARNING", family=family)
            raise InputError(f"{source.name} could not be read as a {label} checkpoint ({exc}).") from None
    tmp = target.with_name(target.name + ".converting")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        pipe.save_pretrained(tmp)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
