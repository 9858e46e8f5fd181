"""Training presets (`configs/training_presets.yaml`) loaded into TrainingParams, and picking one by GPU."""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from isengard.errors import InputError, SettingsError
from isengard.memory import MemoryEstimate, training_memory
from isengard.settings import PROJECT_ROOT
from plugins.training.interface import TrainingParams

PRESETS_FILE = PROJECT_ROOT / "configs" / "training_presets.yaml"


@dataclass(frozen=True)
class Preset:
    id: str
    family: str  # flux | sdxl | sd15 | any
    vram_gb: float
    label: str
    description: str
    params: dict[str, Any] = field(default_factory=dict)
    tiny_only: bool = False
    measured_peak_gb: float | None = None  # a training's peak measured on a GPU (bench/gpu_check.py)
    measured_on: str = ""  # which GPU measured it

    @functools.cached_property
    def memory(self) -> MemoryEstimate | None:
        """The memory model's estimate of this preset (None for the tiny CPU presets)."""
        return None if self.tiny_only else training_memory(self.family, self.training_params())

    @property
    def peak_gb(self) -> float | None:
        """Expected peak GPU memory: measured on a GPU where it was, else from the architecture."""
        if self.measured_peak_gb is not None:
            return self.measured_peak_gb
        return self.memory.peak_gb if self.memory else None

    @property
    def peak_note(self) -> str:
        if self.peak_gb is None:
            return ""
        how = (
            f"measured on {self.measured_on}"
            if self.measured_peak_gb is not None
            else "from the model's architecture"
        )
        return f"Expected peak GPU memory: about {self.peak_gb:.0f} GB ({how})."

    def fits_gpu(self, vram_gb: float) -> bool:
        """Whether its peak fits the card (cards report a little under their size: 3 % of room);
        a preset without an estimate goes by the card size it is meant for."""
        need = self.peak_gb if self.peak_gb is not None else self.vram_gb
        return need <= vram_gb * (0.97 if self.peak_gb is not None else 1.1)

    def training_params(self, **overrides: Any) -> TrainingParams:
        known = {f.name for f in fields(TrainingParams)}
        unknown = set(overrides) - known
        if unknown:
            raise InputError(f"Unknown training setting(s): {', '.join(sorted(unknown))}.")
        checked = {}
        for key, value in overrides.items():
            if value is None:
                continue
            try:
                checked[key] = checked_setting(key, value)
            except InputError as exc:
                exc.field = key
                raise
        try:
            return TrainingParams(**(self.params | checked))
        except (TypeError, ValueError) as exc:
            raise InputError(str(exc)) from None

    def fits(self, family: str, tiny: bool) -> bool:
        if tiny:
            return self.tiny_only
        return not self.tiny_only and self.family in (family, "any")


def load_presets(path: Path = PRESETS_FILE) -> list[Preset]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"Cannot read the training presets {path}: {exc}") from None
    presets, seen = [], set()
    for entry in raw.get("presets", []):
        try:
            preset = Preset(**entry)
            preset.training_params()  # every preset must be valid TrainingParams
        except (TypeError, ValueError, InputError) as exc:
            raise SettingsError(f"Bad preset in {path.name} ({entry.get('id')}): {exc}") from None
        if preset.id in seen:
            raise SettingsError(f"{path.name} lists the preset {preset.id!r} twice.")
        seen.add(preset.id)
        presets.append(preset)
    return presets


def recommend(presets: list[Preset], family: str, *, tiny: bool, vram_gb: float | None) -> tuple[Preset, str]:
    """The preset to start with for this model on this machine, and why (shown to the user)."""
    candidates = sorted((p for p in presets if p.fits(family, tiny)), key=lambda p: p.vram_gb)
    if not candidates:
        raise SettingsError(f"No training preset fits the {family} family.")
    if tiny:
        return candidates[0], "A tiny test model: the quick CPU preset."
    if vram_gb is None:
        return candidates[0], (
            "This computer has no graphics card, so the lightest preset is shown: real training of this "
            "model needs one (a RunPod machine works)."
        )
    fitting = [p for p in candidates if p.fits_gpu(vram_gb)]
    if not fitting:
        lightest = min(candidates, key=lambda p: p.peak_gb or p.vram_gb)
        return lightest, (
            f"Your GPU has {vram_gb:.0f} GB, less than the lightest preset needs "
            f"(about {lightest.peak_gb or lightest.vram_gb:.0f} GB): it may run out of memory, and Isengard "
            "then continues with lighter settings where it can."
        )
    best = fitting[-1]
    reason = f"Your GPU has {vram_gb:.0f} GB: the {best.label} preset is the largest that fits."
    return best, f"{reason} {best.peak_note}".strip()


def family_need_gb(presets: list[Preset], family: str) -> float | None:
    """The least GPU memory a family trains in: its lightest preset's peak (None: no estimate)."""
    peaks = [p.peak_gb for p in presets if p.fits(family, tiny=False) and p.peak_gb is not None]
    return min(peaks) if peaks else None


def training_needs(presets: list[Preset]) -> dict[str, float | None]:
    """Per family, the least GPU memory it trains in (the base-model pick and `doctor` read it)."""
    return {p.family: family_need_gb(presets, p.family) for p in presets if not p.tiny_only}


def lighter_than(presets: list[Preset], preset_id: str) -> Preset | None:
    current = next((p for p in presets if p.id == preset_id), None)
    if current is None:
        return None
    lighter = sorted(
        (
            p
            for p in presets
            if p.family == current.family and p.vram_gb < current.vram_gb and not p.tiny_only
        ),
        key=lambda p: p.vram_gb,
    )
    return lighter[-1] if lighter else None


def params_dict(params: TrainingParams) -> dict[str, Any]:
    return asdict(params)


def checked_setting(name: str, value: Any) -> Any:
    """One training setting from a form or a script, as its field's type, or a sentence naming it."""
    from isengard import validation

    spec = {f.name: f for f in fields(TrainingParams)}[name]
    label = spec.metadata.get("label") or name.replace("_", " ").capitalize()
    lo, hi = spec.metadata.get("min"), spec.metadata.get("max")
    hint = spec.metadata.get("range_hint")
    kind = type(spec.default)
    if kind is bool:
        return validation.yes_no(label, value)
    if kind is int:
        return validation.whole_number(label, value, lo, hi, hint=hint)
    if kind is float:
        return validation.real_number(label, value, lo, hi, hint=hint)
    if kind is str:
        return validation.text(label, value, max_length=200)
    return value


def json_typed(settings: dict[str, Any]) -> None:
    """Settings from a script keep JSON's own types: `"steps": "10"` is text, not a number (a form's boxes
    may send text; a JSON caller means what it sends). Unknown names are left to `training_params`."""
    specs = {f.name: f for f in fields(TrainingParams)}
    for name, value in settings.items():
        spec = specs.get(name)
        if spec is None or value is None:
            continue
        label = spec.metadata.get("label") or name
        kind = type(spec.default)
        if kind is bool and not isinstance(value, bool):
            raise InputError(f"{label} must be true or false, not {json_word(value)}.", field=name)
        if kind in (int, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputError(f"{label} must be a number, not {json_word(value)}.", field=name)
        if kind is str and not isinstance(value, str):
            raise InputError(f"{label} must be text, not {json_word(value)}.", field=name)


def json_word(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return f"the text {value[:20]!r}"
    if isinstance(value, int | float):
        return "a number"
    return (
        "a list"
        if isinstance(value, list)
        else "an object"
        if isinstance(value, dict)
        else type(value).__name__
    )
