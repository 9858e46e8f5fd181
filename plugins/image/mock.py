"""Fast-test image backend (a mock, as the spec's fast-test mode asks): placeholder PNGs, no model.

Deterministic: the same request and seed give the same pixels. Reports per-step progress like a sampler.
"""

from __future__ import annotations

import time

from plugins.base import FAMILIES, Availability, Cancelled, RunContext
from plugins.image.interface import GeneratedImage, ImageBackend, ImageRequest, ImageResult
from plugins.placeholder import placeholder_image


class MockImageBackend(ImageBackend):
    name = "mock"
    version = "1.0.0"
    label = "Placeholder images (fast-test)"
    description = "Draws labelled placeholder pictures instantly. For demos and tests; no model is used."
    families = FAMILIES
    needs_weights = False

    def __init__(self, seconds_per_step: float = 0.01):
        self.seconds_per_step = seconds_per_step

    def availability(self) -> Availability:
        return Availability.yes("always available (placeholder images, no GPU needed)")

    def run(self, request: ImageRequest, ctx: RunContext) -> ImageResult:
        images = []
        total = request.steps * request.count
        for index in range(request.count):
            seed = request.seed + index
            for step in range(1, request.steps + 1):
                if ctx.is_cancelled():
                    raise Cancelled(f"cancelled at image {index + 1}, step {step}")
                time.sleep(self.seconds_per_step)
                ctx.progress(step=index * request.steps + step, total=total, image_index=index)
            loras = ", ".join(f"{lora.name or lora.path.name}:{lora.strength:g}" for lora in request.loras)
            lines = [request.prompt[:60], f"seed {seed} · {request.base.id}", f"loras: {loras or 'none'}"]
            image = placeholder_image(request.width, request.height, seed, lines)
            images.append(GeneratedImage(image=image, seed=seed))
        return ImageResult(images=images, info={"sampler": "placeholder"})
