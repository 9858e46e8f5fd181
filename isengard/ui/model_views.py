"""How a base model is named and described wherever one is chosen: its licence beside it, always."""

from __future__ import annotations

import html

from isengard.models.catalogue import BaseModel
from plugins.families import family_info


def model_choice(model: BaseModel) -> tuple[str, str]:
    """(label, id) for a dropdown; a model a business may not use says so in the list itself."""
    suffix = " · non-commercial" if model.commercial is False else ""
    return f"{model.label}{suffix}", model.id


def licence_html(model: BaseModel) -> str:
    use = {True: "yes", False: "no", None: "see the model's page"}[model.commercial]
    licence = html.escape(model.licence or "not stated")
    return (
        f'<span class="isg-licence" data-commercial="{str(model.commercial).lower()}">'
        f"Licence: {licence} · commercial use: {use}</span>"
    )


def guidance_help(family: str) -> str:
    """The guidance slider's help for the chosen family (its convention differs)."""
    info = family_info(family)
    if info.guidance == "cfg_offset":
        return "How strictly to follow the prompt. 0 is off (what Turbo wants); 2–5 for the base model."
    if info.guidance == "embedded":
        return f"How strictly to follow the prompt. {info.label}: 2–4."
    if info.guidance == "true_cfg":
        return f"How strictly to follow the prompt. {info.label}: 3–5; 1 is off (faster)."
    return f"How strictly to follow the prompt. {info.label}: {'3–5' if family == 'flux2_klein' else '5–8'}; 1 is off."


def shows_negative_prompt(model: BaseModel) -> bool:
    """A negative prompt field only where it changes the picture: not for families without one, and not
    for a model that runs with guidance off (Z-Image Turbo's 0)."""
    info = family_info(model.family)
    return info.negative_prompt and model.default_guidance > info.guidance_off


def steps_help(model: BaseModel) -> str:
    """Few-step (distilled) models say so: their right number is small, more rarely helps."""
    if model.default_steps <= 10:
        return f"{model.label} is made for about {model.default_steps} steps; more rarely helps."
    return "More steps add detail but take longer (20–40)."
