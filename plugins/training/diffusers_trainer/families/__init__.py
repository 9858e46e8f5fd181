"""One training recipe per model family (as diffusers keeps one pipeline per file)."""

from plugins.training.diffusers_trainer.families.base import Encoded, Family, Loaded
from plugins.training.diffusers_trainer.families.flux import FluxFamily
from plugins.training.diffusers_trainer.families.flux2 import Flux2DevFamily, Flux2KleinFamily
from plugins.training.diffusers_trainer.families.qwen_image import QwenImageFamily
from plugins.training.diffusers_trainer.families.sd15 import SD15Family
from plugins.training.diffusers_trainer.families.sdxl import SDXLFamily
from plugins.training.diffusers_trainer.families.zimage import ZImageFamily

FAMILIES: dict[str, type[Family]] = {
    cls.name: cls
    for cls in (
        FluxFamily,
        SDXLFamily,
        SD15Family,
        Flux2KleinFamily,
        Flux2DevFamily,
        ZImageFamily,
        QwenImageFamily,
    )
}

__all__ = ["FAMILIES", "Encoded", "Family", "Loaded"]
