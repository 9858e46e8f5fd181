"""One generation recipe per model family."""

from plugins.image.diffusers_backend.families.base import Recipe, tiny_marker
from plugins.image.diffusers_backend.families.flux import FluxRecipe
from plugins.image.diffusers_backend.families.flux2_klein import Flux2DevRecipe, Flux2KleinRecipe
from plugins.image.diffusers_backend.families.qwen_image import QwenImageRecipe
from plugins.image.diffusers_backend.families.unet import SD15Recipe, SDXLRecipe
from plugins.image.diffusers_backend.families.zimage import ZImageRecipe

RECIPES: dict[str, Recipe] = {
    recipe.family: recipe
    for recipe in (
        FluxRecipe(),
        SDXLRecipe(),
        SD15Recipe(),
        Flux2KleinRecipe(),
        Flux2DevRecipe(),
        ZImageRecipe(),
        QwenImageRecipe(),
    )
}

__all__ = ["RECIPES", "Recipe", "tiny_marker"]
