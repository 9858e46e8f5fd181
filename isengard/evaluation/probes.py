"""The probe set: the character's trigger word in five framings, drawn at every sample point with fixed
seeds (the trainer's sample seeds) so each checkpoint is judged on the same pictures. They are also the
training samples a person watches. Phrased for every family: plain sentences, which FLUX and Z-Image-like
models follow and SD 1.5/SDXL read well enough."""

from __future__ import annotations

FRAMINGS = (
    ("close-up", "a close-up portrait photo of {who}, looking at the camera, soft window light"),
    ("half body", "a half-body photo of {who} standing in a park, natural daylight"),
    ("three-quarter", "a three-quarter view portrait of {who}, head turned to the side, studio light"),
    ("other light", "a photo of {who} at night on a city street, neon light"),
    ("full body", "a full-body photo of {who} walking on a beach"),
)


def probe_prompts(trigger: str, class_word: str = "person") -> list[str]:
    who = f"{trigger}, a {class_word}" if class_word else trigger
    return [template.format(who=who) for _, template in FRAMINGS]


def framing_of(index: int) -> str:
    return FRAMINGS[index][0] if 0 <= index < len(FRAMINGS) else f"probe {index + 1}"
