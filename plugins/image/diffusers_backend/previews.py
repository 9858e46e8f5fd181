"""Live previews: a cheap latent → RGB approximation, so the page shows the picture forming at each step.

The linear map is fitted once per VAE from a few synthetic colour images (least squares from latent
channels to RGB) — the same idea as ComfyUI's latent2rgb factors, but measured, so it also fits the tiny
models and any fine-tuned VAE.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.Lock()


class LatentPreviewer:
    def __init__(self) -> None:
        self._maps: dict[int, tuple[Any, Any]] = {}

    def fit(self, vae) -> tuple[Any, Any]:
        import torch

        key = id(vae)
        with _LOCK:
            if key in self._maps:
                return self._maps[key]
            generator = torch.Generator().manual_seed(0)
            images = torch.rand(12, 3, 1, 1, generator=generator).expand(12, 3, 64, 64).clone() * 2 - 1
            images[6:, :, :, 32:] = torch.rand(6, 3, 1, 1, generator=generator) * 2 - 1
            device, dtype = vae.device, vae.dtype
            video = hasattr(vae, "temperal_downsample")  # Qwen-Image's VAE takes B×C×T×H×W
            pixels = images.to(device, dtype)
            with torch.no_grad():
                latents = (
                    vae.encode(pixels.unsqueeze(2) if video else pixels).latent_dist.mode().float().cpu()
                )
            latents = latents[:, :, 0] if video else latents
            scale = latents.shape[-1] / 64
            small = torch.nn.functional.interpolate(images, scale_factor=scale, mode="area")
            x = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1])
            y = small.permute(0, 2, 3, 1).reshape(-1, 3)
            x1 = torch.cat([x, torch.ones(len(x), 1)], dim=1)
            solution = torch.linalg.lstsq(x1, y).solution
            self._maps[key] = (solution[:-1], solution[-1])
            return self._maps[key]

    def to_image(self, vae, latents, size: int = 256):
        """latents: raw VAE latents (B, C, h, w), i.e. already un-scaled; returns a small PIL image."""
        import torch
        from PIL import Image

        weights, bias = self.fit(vae)
        lat = latents[0].float().cpu().permute(1, 2, 0)
        rgb = (lat @ weights + bias).clamp(-1, 1)
        array = ((rgb + 1) * 127.5).to(torch.uint8).numpy()
        image = Image.fromarray(array)
        ratio = size / max(image.size)
        return image.resize(
            (max(1, round(image.width * ratio)), max(1, round(image.height * ratio))),
            Image.Resampling.BILINEAR,
        )
