"""The base model catalogue (`configs/models.yaml`) as typed, validated entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from isengard.errors import InputError, SettingsError
from isengard.settings import PROJECT_ROOT
from plugins.base import FAMILIES, ModelRef

CATALOGUE_FILE = PROJECT_ROOT / "configs" / "models.yaml"


@dataclass(frozen=True)
class BaseModel:
    id: str
    label: str
    family: str
    source: str
    resolution: int
    description: str = ""
    gated: bool = False
    download_gb: float | None = None
    vram_gb: float | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    custom: bool = False  # a user's own base (local folder or single-file checkpoint)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"model {self.id!r}: family must be one of {FAMILIES}, not {self.family!r}")
        if not self.id or not self.source:
            raise ValueError("every model needs an id and a source")

    @property
    def tiny(self) -> bool:
        return self.source.startswith("tiny:")

    @property
    def single_file(self) -> bool:
        return self.source.endswith((".safetensors", ".ckpt"))

    @property
    def is_local(self) -> bool:
        return self.tiny or self.custom or Path(self.source).is_absolute()

    def ref(self, local_path: Path | None = None, sha256: str | None = None) -> ModelRef:
        return ModelRef(
            id=self.id,
            family=self.family,
            source=self.source,
            local_path=local_path,
            single_file=self.single_file,
            label=self.label,
            sha256=sha256,
        )

    @property
    def default_steps(self) -> int:
        return int(self.defaults.get("steps", 28))

    @property
    def default_guidance(self) -> float:
        return float(self.defaults.get("guidance", 3.5))


def load_catalogue(path: Path = CATALOGUE_FILE) -> list[BaseModel]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SettingsError(f"Cannot read the model catalogue {path}: {exc}") from None
    models = []
    seen = set()
    for entry in raw.get("models", []):
        try:
            model = BaseModel(**entry)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"Bad entry in {path.name}: {exc}") from None
        if model.id in seen:
            raise SettingsError(f"{path.name} lists the model id {model.id!r} twice.")
        seen.add(model.id)
        models.append(model)
    if not models:
        raise SettingsError(f"{path.name} lists no models.")
    return models


class Catalogue:
    """The built-in models plus the user's own (registered at run time by the model service)."""

    def __init__(self, models: list[BaseModel]):
        self._models = {m.id: m for m in models}

    def get(self, model_id: str) -> BaseModel:
        try:
            return self._models[model_id]
        except KeyError:
            raise InputError(
                f"There is no base model {model_id!r}.", hint=f"Known: {', '.join(self._models)}."
            ) from None

    def add(self, model: BaseModel) -> None:
        self._models[model.id] = model

    def remove(self, model_id: str) -> None:
        self._models.pop(model_id, None)

    def all(self) -> list[BaseModel]:
        return list(self._models.values())

    def ids(self) -> list[str]:
        return list(self._models)
