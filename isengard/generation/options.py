"""Generation settings from `configs/generation.yaml`: when to use the low-VRAM options."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from isengard.errors import SettingsError
from isengard.settings import PROJECT_ROOT
from plugins.families import FAMILY_INFO

GENERATION_FILE = PROJECT_ROOT / "configs" / "generation.yaml"


@dataclass(frozen=True)
class GenerationConfig:
    low_vram_gb: dict[str, float] = field(
        default_factory=lambda: {name: info.low_vram_gb for name, info in FAMILY_INFO.items()}
    )
    vae_tiling_megapixels: float = 1.6
    default_lora_strength: float = 1.0

    def options(self, family: str, vram_gb: float | None, width: int, height: int) -> dict[str, bool]:
        """Model CPU offload on small GPUs, VAE tiling for large pictures."""
        return {
            "cpu_offload": vram_gb is not None and vram_gb < self.low_vram_gb.get(family, 0),
            "vae_tiling": width * height / 1e6 > self.vae_tiling_megapixels,
        }


def load_generation_config() -> GenerationConfig:
    try:
        raw = yaml.safe_load(GENERATION_FILE.read_text(encoding="utf-8")) or {}
        return GenerationConfig(**raw)
    except (OSError, yaml.YAMLError, TypeError) as exc:
        raise SettingsError(f"Cannot read {GENERATION_FILE.name}: {exc}") from None
