"""`models import` of ComfyUI's split files (`comfy_files`): find the family's reference model that fits the
diffusion model, convert the parts given, and assemble the diffusers folder the trainers and generators
load. What the person did not give (the text encoder, the VAE) is the family's own, from the reference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from isengard.errors import InputError, NotAvailableError
from isengard.models import comfy_files
from isengard.models.catalogue import BaseModel
from isengard.obs import event
from isengard.paths import safe_component

CONFIG_FILES = ["model_index.json", "*/*.json", "*/*.txt", "*/*.model", "*/*.jinja"]


@dataclass(frozen=True)
class SplitFiles:
    diffusion_model: Path
    text_encoder: Path | None = None
    vae: Path | None = None


def import_split(manager, files: SplitFiles, target: Path, *, like: str | None, say: Callable[[str], None]):
    """Convert and assemble; returns the family and the reference model it was matched to."""
    from plugins.families import family_info

    tensors = comfy_files.read_tensors(files.diffusion_model)
    family = comfy_files.family_of_diffusion_model(tensors)
    if family is None:
        raise InputError(
            f"{files.diffusion_model.name} is not a Z-Image, FLUX.2 or Qwen-Image diffusion model."
        )
    label = comfy_files.LABELS[family]
    event("model.split_import", f"{files.diffusion_model.name}: {family}", family=family)
    say(f"Reading {files.diffusion_model.name} ({label})")
    denoiser = family_info(family).model_attr
    converted = comfy_files.convert_diffusion_model(family, tensors)
    reference, folder = _matching_reference(manager, family, converted, denoiser, like)
    say(f"It fits {reference.label}")
    parts = {denoiser: converted}
    for sub, path in (("text_encoder", files.text_encoder), ("vae", files.vae)):
        if path is None:
            continue
        shapes, config = comfy_files.component_shapes(folder, sub)
        given = comfy_files.read_tensors(path)
        if sub == "vae":
            parts[sub] = comfy_files.convert_vae(given, shapes, config)
        else:
            parts[sub] = comfy_files.convert_text_encoder(given, shapes)
            why = comfy_files.mismatch(parts[sub], shapes)
            if why:
                event("model.split_import_mismatch", f"{path.name}: {why}", level="WARNING", part=sub)
                raise InputError(
                    f"{path.name} is not the text encoder {reference.label} uses (its layout or sizes "
                    "differ); leave it out to use the family's own.",
                )
    missing = [sub for sub in ("text_encoder", "vae") if sub not in parts]
    folder = _with_weights(manager, reference, folder, missing, say)
    comfy_files.assemble(folder, target, parts, denoiser=denoiser, say=say)
    return family, reference


def _matching_reference(manager, family: str, converted: dict, denoiser: str, like: str | None):
    if like:
        candidates = [manager.catalogue.get(like)]
        if candidates[0].family != family:
            raise InputError(f"{candidates[0].label} is not a {comfy_files.LABELS[family]} model.")
    else:
        candidates = [m for m in manager.catalogue.all() if m.family == family and not m.custom]
    tried = []
    for model in candidates:
        try:
            folder = _configuration(manager, model)
        except NotAvailableError as exc:
            tried.append(f"{model.id}: {exc}")
            continue
        shapes, _ = comfy_files.component_shapes(folder, denoiser)
        why = comfy_files.mismatch(converted, shapes)
        if not why:
            return model, folder
        tried.append(f"{model.id}: {why}")
    raise comfy_files.no_reference(family, tried)


def _configuration(manager, model: BaseModel) -> Path:
    """A folder with the model's configuration: its own build or download, or its small files from the Hub."""
    if model.tiny or manager.is_ready(model):
        return manager.resolve(model).local_path
    return _from_hub(manager, model, [])


def _from_hub(manager, model: BaseModel, parts: list[str]) -> Path:
    from huggingface_hub import snapshot_download

    from isengard.models.tokens import hub_error_message

    folder = manager.paths.base_models / "references" / safe_component(model.id)
    patterns = CONFIG_FILES + [f"{sub}/*" for sub in parts]
    try:
        manager.check_access(model)
        snapshot_download(model.source, allow_patterns=patterns, local_dir=folder, token=manager.tokens.get())
    except NotAvailableError:
        raise
    except Exception as exc:
        raise NotAvailableError(hub_error_message(exc, model.source)) from None
    return folder


def _with_weights(manager, model: BaseModel, folder: Path, missing: list[str], say) -> Path:
    """The reference folder, with the weights of the parts the person did not give."""
    if not missing or model.tiny or manager.is_ready(model):
        return folder
    say(f"Downloading {model.label}'s {' and '.join(s.replace('_', ' ') for s in missing)}")
    event("model.split_import_download", f"{model.source}: {missing}", model=model.id)
    return _from_hub(manager, model, missing)
