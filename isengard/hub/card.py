"""The model card's metadata header as the Hugging Face Hub reads it (`README.md`'s YAML front matter): the
base model, `lora` and the family's tags, the base's licence in the Hub's own identifiers, the trigger word
as `instance_prompt`, and the samples as the widget the model page shows."""

from __future__ import annotations

from typing import Any

import yaml

# the catalogue's licence names → the Hub's licence id (and, for "other", its name and link)
HUB_LICENCES: dict[str, tuple[str, str | None, str | None]] = {
    "Apache-2.0": ("apache-2.0", None, None),
    "CreativeML Open RAIL++-M": ("openrail++", None, None),
    "CreativeML Open RAIL-M": ("creativeml-openrail-m", None, None),
    "FLUX.1 [dev] Non-Commercial": (
        "other",
        "flux-1-dev-non-commercial-license",
        "https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md",
    ),
    "FLUX.2 [dev] Non-Commercial": (
        "other",
        "flux-dev-non-commercial-license",
        "https://huggingface.co/black-forest-labs/FLUX.2-dev/blob/main/LICENSE.txt",
    ),
}
FAMILY_TAGS = {
    "flux": ["flux", "flux-diffusers"],
    "sdxl": ["stable-diffusion-xl", "stable-diffusion-xl-diffusers"],
    "sd15": ["stable-diffusion", "stable-diffusion-diffusers"],
    "zimage": ["z-image"],
    "flux2_klein": ["flux2", "flux2-klein"],
    "flux2": ["flux2"],
    "qwen_image": ["qwen-image"],
}


def front_matter(
    *,
    family: str,
    base_repo: str | None,
    licence: str | None,
    trigger: str | None,
    widgets: list[tuple[str, str]] = (),
) -> str:
    """The YAML header, between its `---` lines. `widgets`: (prompt, path of the sample in the repo)."""
    data: dict[str, Any] = {
        "library_name": "diffusers",
        "tags": [
            "lora",
            "text-to-image",
            "diffusers",
            "template:sd-lora",
            "isengard",
            *FAMILY_TAGS.get(family, []),
        ],
    }
    if base_repo:
        data["base_model"] = base_repo
    hub = HUB_LICENCES.get(licence or "")
    if hub:
        data["license"] = hub[0]
        if hub[1]:
            data["license_name"], data["license_link"] = hub[1], hub[2]
    if trigger:
        data["instance_prompt"] = trigger
    if widgets:
        data["widget"] = [{"text": prompt, "output": {"url": path}} for prompt, path in widgets]
    return "---\n" + yaml.safe_dump(data, sort_keys=False, allow_unicode=True) + "---"
