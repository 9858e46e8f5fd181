"""ComfyUI's split files: a diffusion model, a text encoder and a VAE, each its own `.safetensors`, as
Comfy-Org publishes them (`split_files/diffusion_models|text_encoders|vae`) for Z-Image, FLUX.2 and
Qwen-Image — and as fine-tunes are shared, usually the diffusion model alone.

The family is read from the diffusion model's tensor names, offline. The file is converted with diffusers'
own converters (the ones `from_single_file` uses) and checked, tensor by tensor, against the family's
reference model: one of the catalogue's models of that family whose shapes match (its configuration,
tokenizer and scheduler come with the import; so do its text encoder and VAE when no file is given for
them). A reference with local files is used first; a Hub model's small configuration files are fetched
otherwise (not its weights, unless a part is missing and must come from it).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from isengard.errors import InputError, NotAvailableError, StorageError, storage_failure_reason
from isengard.obs import event

PREFIXES = ("model.diffusion_model.", "diffusion_model.")
LABELS = {
    "zimage": "Z-Image",
    "flux2_klein": "FLUX.2 [klein]",
    "flux2": "FLUX.2 [dev]",
    "qwen_image": "Qwen-Image",
}
# container prefixes of text-encoder files (ComfyUI keeps Hugging Face's names, with or without the model's
# wrapper): removed before names are compared; Qwen2.5-VL's vision tower keeps its own name
TEXT_PREFIXES = ("model.language_model.", "language_model.model.", "language_model.", "model.")


def strip_prefix(key: str) -> str:
    for prefix in PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def family_of_diffusion_model(keys) -> str | None:
    """Z-Image, FLUX.2 [klein], FLUX.2 [dev] or Qwen-Image from a diffusion model's tensor names."""
    names = {strip_prefix(k) for k in keys}
    if "single_stream_modulation.lin.weight" in names or "single_stream_modulation.linear.weight" in names:
        guided = any(n.startswith(("guidance_in.", "time_guidance_embed.guidance_embedder.")) for n in names)
        return "flux2" if guided else "flux2_klein"
    if any(n.startswith("context_refiner.") for n in names) and any(
        n.startswith("noise_refiner.") for n in names
    ):
        return "zimage"
    if "txt_norm.weight" in names and "img_in.weight" in names and "txt_in.text_norm.weight" not in names:
        return "qwen_image"
    return None


def read_tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    if path.suffix != ".safetensors":
        raise InputError(f"{path.name}: only .safetensors files can be imported (.ckpt files can run code).")
    try:
        return load_file(str(path))
    except Exception as exc:
        raise InputError(f"{path.name} is not a readable .safetensors file ({exc}).") from None


def convert_diffusion_model(family: str, tensors: dict) -> dict:
    """ComfyUI / original layout → diffusers names, with diffusers' own converters."""
    from diffusers.loaders import single_file_utils as sfu

    tensors = {strip_prefix(k): v for k, v in tensors.items()}
    if family == "zimage":
        return sfu.convert_z_image_transformer_checkpoint_to_diffusers(tensors)
    if family in ("flux2", "flux2_klein"):
        if "single_stream_modulation.linear.weight" in tensors:  # already in diffusers' names
            return tensors
        return sfu.convert_flux2_transformer_checkpoint_to_diffusers(tensors)
    return tensors  # Qwen-Image: ComfyUI keeps diffusers' names


def convert_vae(tensors: dict, reference: dict, config: dict) -> dict:
    """A VAE file in diffusers' names, the original (ldm) layout of FLUX's `ae.safetensors`, or Wan's layout
    (Qwen-Image's VAE): the first reading whose names and shapes are the reference's."""
    from diffusers.loaders import single_file_utils as sfu

    tensors = {strip_prefix(k).removeprefix("vae."): v for k, v in tensors.items()}
    readings: list[Callable[[dict], dict]] = [
        lambda t: t,
        lambda t: sfu.convert_wan_vae_to_diffusers(dict(t)),
        lambda t: _ldm_vae(sfu, t, config),
    ]
    for read in readings:
        try:
            converted = read(tensors)
        except Exception:  # a layout it is not: try the next reading
            continue
        if not mismatch(converted, reference):
            return converted
    raise InputError(
        "The VAE file does not fit this model (its layout or sizes differ); leave it out to use the "
        "family's own VAE."
    )


def _ldm_vae(sfu, tensors: dict, config: dict) -> dict:
    extra = {k: v for k, v in tensors.items() if k.startswith("bn.")}  # FLUX.2's latent batch norm
    ldm = {f"first_stage_model.{k}": v for k, v in tensors.items() if not k.startswith("bn.")}
    return sfu.convert_ldm_vae_checkpoint(ldm, config) | extra


def convert_text_encoder(tensors: dict, reference: dict) -> dict:
    """A text encoder file in Hugging Face's names, with or without its wrapper's prefix (`model.`, the
    language model's), matched to the reference's names; a tied output layer may be left out."""

    def plain(key: str) -> str:
        if key.startswith(("model.visual.", "visual.")):
            return "visual." + key.split("visual.", 1)[1]
        for prefix in TEXT_PREFIXES:
            if key.startswith(prefix):
                return key[len(prefix) :]
        return key

    by_plain = {plain(k): v for k, v in tensors.items()}
    converted = {name: by_plain[plain(name)] for name in reference if plain(name) in by_plain}
    missing = [n for n in reference if n not in converted]
    if missing == ["lm_head.weight"]:  # tied to the embeddings, not stored in ComfyUI's file
        embed = next(n for n in reference if n.endswith("embed_tokens.weight"))
        converted["lm_head.weight"] = converted[embed]
    used = {plain(name) for name in reference}
    # what the reference has no place for stays under its own name, so `mismatch` reports it
    return converted | {key: v for key, v in tensors.items() if plain(key) not in used}


def mismatch(tensors: dict, reference: dict) -> str:
    """'' when `tensors` has exactly the reference's names and shapes; else the first difference."""
    missing = sorted(set(reference) - set(tensors))
    if missing:
        return f"{len(missing)} tensors missing, e.g. {missing[0]}"
    extra = sorted(set(tensors) - set(reference))
    if extra:
        return f"{len(extra)} unexpected tensors, e.g. {extra[0]}"
    for name, shape in reference.items():
        if tuple(tensors[name].shape) != tuple(shape):
            return f"{name} is {tuple(tensors[name].shape)}, not {tuple(shape)}"
    return ""


def component_shapes(folder: Path, sub: str) -> tuple[dict, dict]:
    """The names and shapes of a reference folder's component, built on the meta device (no weights read),
    and its configuration."""
    import importlib

    import torch

    index = json.loads((folder / "model_index.json").read_text())
    library, class_name = index[sub]
    cls = getattr(importlib.import_module(library), class_name)
    with torch.device("meta"):
        if library == "transformers":
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(str(folder / sub))
            model = cls._from_config(config)
            config_dict = config.to_dict()
        else:
            config_dict = cls.load_config(str(folder / sub))
            model = cls.from_config(config_dict)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}, config_dict


def save_component(tensors: dict, reference_folder: Path, sub: str, target: Path) -> None:
    """The converted weights beside the reference's configuration, as diffusers and transformers save them."""
    from safetensors.torch import save_file

    out = target / sub
    out.mkdir(parents=True)
    for item in (reference_folder / sub).iterdir():
        if item.suffix == ".json" and "index" not in item.name:
            shutil.copy2(item, out / item.name)
    library = json.loads((reference_folder / "model_index.json").read_text())[sub][0]
    name = "model.safetensors" if library == "transformers" else "diffusion_pytorch_model.safetensors"
    tied = {}
    if "lm_head.weight" in tensors:  # safetensors refuses shared memory: the tied head gets its own copy
        tied["lm_head.weight"] = tensors["lm_head.weight"].clone()
    contiguous = {k: v.contiguous() for k, v in tensors.items()} | tied
    save_file(contiguous, str(out / name), metadata={"format": "pt"})


def assemble(
    reference: Path,
    target: Path,
    parts: dict[str, dict],
    *,
    denoiser: str,
    say: Callable[[str], None],
) -> None:
    """The diffusers folder at `target` (atomically: built beside it, then renamed): the converted parts,
    and everything else — configuration, tokenizer, scheduler, parts not given — from the reference."""
    tmp = target.with_name(target.name + ".converting")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for item in reference.iterdir():  # model_index.json, and a training adapter kept beside it
            if item.is_file() and not item.name.startswith("."):
                shutil.copy2(item, tmp / item.name)
        for sub, tensors in parts.items():
            say(f"Writing the {'diffusion model' if sub == denoiser else sub.replace('_', ' ')}")
            save_component(tensors, reference, sub, tmp)
        for item in reference.iterdir():
            if item.is_dir() and item.name not in parts and not item.name.startswith("."):
                shutil.copytree(item, tmp / item.name, copy_function=_link_or_copy)
        tmp.rename(target)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        # safetensors reports a full disk as its own error, with the system's words
        reason = storage_failure_reason(exc) if isinstance(exc, Exception) else None
        if reason:  # a full or read-only disk: one sentence, and nothing half-made stays behind
            event("model.import_write_failed", f"{target.name}: {reason}", level="WARNING")
            raise StorageError(f"{reason} Nothing half-made of the model was kept.") from None
        raise


def _link_or_copy(src: str, dst: str) -> None:
    """Large shared weights (the family's own text encoder or VAE) are hard links where the disk allows."""
    import os

    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def no_reference(family: str, tried: list[str]) -> NotAvailableError:
    event("model.import_no_reference", f"no {family} reference fits", level="WARNING", tried=tried)
    return NotAvailableError(
        f"This {LABELS[family]} diffusion model does not match the sizes of any {LABELS[family]} model "
        "Isengard knows, so it cannot be set up.",
        hint="Details: " + "; ".join(tried),
    )
