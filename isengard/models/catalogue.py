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
    licence: str = ""  # the weights' licence, e.g. "Apache-2.0", "FLUX Non-Commercial"
    commercial: bool | None = None  # may a business use the weights? None: not known (a user's own file)
    trains_on: str | None = None  # train on this catalogue model instead (an undistilled sibling)
    training_adapter: str | None = None  # "tiny" or "<repo id>/<file>": applied while training only
    parameters_b: float | None = None  # size of the denoiser, billions of parameters

    @property
    def licence_note(self) -> str:
        """One plain line shown next to the model wherever it is chosen."""
        if self.commercial is None:
            return f"Licence: {self.licence}" if self.licence else "Licence: see the model's own page"
        use = "commercial use allowed" if self.commercial else "no commercial use"
        return f"{self.licence} · {use}"

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

    def ref(
        self, local_path: Path | None = None, sha256: str | None = None, training_adapter: Path | None = None
    ) -> ModelRef:
        return ModelRef(
            id=self.id,
            family=self.family,
            source=self.source,
            local_path=local_path,
            single_file=self.single_file,
            label=self.label,
            sha256=sha256,
            training_adapter=training_adapter,
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
    ids = {m.id for m in models}
    for model in models:
        if model.trains_on and model.trains_on not in ids:
            raise SettingsError(
                f"{path.name}: {model.id} trains on {model.trains_on!r}, which it does not list."
            )
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
