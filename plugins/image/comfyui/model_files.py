"""Which of a ComfyUI server's model files a family's workflow loads, found by the names Comfy-Org and
the model makers publish (`qwen_3_4b.safetensors`, `flux2-vae.safetensors`, …), and what to say when one
is missing."""

from __future__ import annotations

import re

from plugins.base import PluginError

# family → [(bound parameter, ComfyUI model folder, pattern on the lower-cased file name, what it is)]
FILES: dict[str, list[tuple[str, str, str, str]]] = {
    "flux": [
        ("unet_name", "diffusion_models", r"flux(?!.?2)", "a FLUX diffusion model"),
        ("clip_l", "text_encoders", r"clip_l", "the clip_l text encoder"),
        ("t5", "text_encoders", r"t5", "a T5 text encoder"),
        ("vae_name", "vae", r"^ae|flux(?!.?2)", "the FLUX VAE ae.safetensors"),
    ],
    "flux2_klein": [
        ("unet_name", "diffusion_models", r"klein", "a FLUX.2 [klein] diffusion model"),
        ("text_encoder", "text_encoders", r"qwen.?3.?4b", "the Qwen3 4B text encoder (qwen_3_4b)"),
        ("vae_name", "vae", r"flux.?2", "the FLUX.2 VAE (flux2-vae)"),
    ],
    "flux2": [
        ("unet_name", "diffusion_models", r"flux.?2.?dev", "a FLUX.2 [dev] diffusion model"),
        ("text_encoder", "text_encoders", r"mistral", "the Mistral-Small 3 text encoder"),
        ("vae_name", "vae", r"flux.?2", "the FLUX.2 VAE (flux2-vae)"),
    ],
    "zimage": [
        ("unet_name", "diffusion_models", r"z.?image", "a Z-Image diffusion model"),
        ("text_encoder", "text_encoders", r"qwen.?3.?4b", "the Qwen3 4B text encoder (qwen_3_4b)"),
        ("vae_name", "vae", r"^ae", "the FLUX.1 VAE ae.safetensors"),
    ],
    "qwen_image": [
        ("unet_name", "diffusion_models", r"qwen.?image", "a Qwen-Image diffusion model"),
        ("text_encoder", "text_encoders", r"qwen.?2.?5.?vl", "the Qwen2.5-VL 7B text encoder"),
        ("vae_name", "vae", r"qwen.?image", "the Qwen-Image VAE"),
    ],
}
FOLDER_LABEL = {"diffusion_models": "models/diffusion_models", "text_encoders": "models/text_encoders",
                "vae": "models/vae"}  # fmt: skip


def model_values(family: str, label: str, source: str, listing) -> dict[str, str]:
    """The bound file names for `family`; `listing(folder)` gives the server's files. A request for one of
    the server's own diffusion models (`diffusion_models/<name>`) uses that file."""
    values, missing = {}, []
    for parameter, folder, pattern, what in FILES[family]:
        if parameter == "unet_name" and source.startswith("diffusion_models/"):
            values[parameter] = source.split("/", 1)[1]
            continue
        names = [n for n in listing(folder) if n != "pixel_space"]
        found = next((n for n in names if re.search(pattern, n.lower().rsplit("/", 1)[-1])), None)
        if found:
            values[parameter] = found
        else:
            missing.append(f"{what} ({FOLDER_LABEL[folder]})")
    if missing:
        raise PluginError(f"ComfyUI is missing {', '.join(missing)} for {label}.")
    return values


def guess_family(filename: str) -> str:
    """A checkpoint's family from its file name (the server says nothing else about it)."""
    name = filename.lower()
    if "klein" in name:
        return "flux2_klein"
    if re.search(r"flux.?2", name):
        return "flux2"
    if "flux" in name:
        return "flux"
    if re.search(r"z.?image", name):
        return "zimage"
    if re.search(r"qwen.?image", name):
        return "qwen_image"
    if any(tag in name for tag in ("xl", "pony", "illustrious", "noob")):
        return "sdxl"
    return "sd15"
