"""How a training gets its base, photos and prompts ready: from the warm cache when an earlier job left them
(see warm.py), else loaded and encoded — and how it hands the base back when it ends."""

from __future__ import annotations

from plugins.training.diffusers_trainer.data import prepare
from plugins.training.diffusers_trainer.families import Encoded
from plugins.training.diffusers_trainer.warm import dataset_fingerprint

TEXT_ENCODERS = ("text_encoder", "text_encoder_2")


class WarmSetupMixin:
    """For LoraTrainer: needs `params`, `request`, `family`, `loaded`, `ctx`, `device`, `warm`, `warm_key`."""

    def _prepare_photos(self) -> None:
        """The photos in their buckets and their latents: kept from an earlier run when nothing changed."""
        import torch

        p = self.params
        grid = self.family.grid(self.loaded)
        resolution = max(grid, round(p.resolution / grid) * grid)
        key = None
        if self.warm_key is not None:
            key = (
                self.warm_key,
                resolution,
                grid,
                p.buckets,
                p.seed,
                dataset_fingerprint(self.request.dataset),
            )
            kept = self.warm.prepared(key)
            if kept is not None:
                self.ctx.progress(phase="caching", message="The photos are unchanged: reusing their latents")
                self.items, self.latents = kept.items, kept.latents
                return
        self.ctx.progress(phase="caching", message="Reading the photos and caching latents")
        self.items = prepare(
            [(item.image, item.caption) for item in self.request.dataset],
            resolution,
            grid,
            use_buckets=p.buckets,
        )
        generator = torch.Generator().manual_seed(p.seed)
        self.latents = [
            self.family.encode_latents(self.loaded, item.pixels, generator) for item in self.items
        ]
        for item in self.items:
            item.pixels = None  # the latents are all training needs from now on
        if key is not None:
            self.warm.keep_prepared(key, self.items, self.latents)

    @property
    def captions_on_cpu(self) -> bool:
        """Low-VRAM mode on a GPU: the text encoders read the captions on the CPU (slower; the memory model
        counts several GB less: a T5-XXL is 9.5 GB in bf16)."""
        return bool(self.params.low_vram and self.on_gpu)

    def _place(self, pipe) -> None:
        """The pipeline onto this job's device; in Low-VRAM mode the text encoders stay on the CPU and the
        VAE works in tiles."""
        import torch

        if not self.captions_on_cpu:
            pipe.to(self.device)
            return
        for name, component in pipe.components.items():
            if name not in TEXT_ENCODERS and isinstance(component, torch.nn.Module):
                component.to(self.device)
        if hasattr(pipe.vae, "enable_tiling"):
            pipe.vae.enable_tiling()
        self.ctx.log("training.low_vram", "text encoders on the CPU, VAE in tiles", device=self.device)

    def _encode(self, prompts: list[str]) -> dict[str, Encoded]:
        pipe = self.loaded.pipe
        where = "cpu" if self.captions_on_cpu else self.device

        def encode(missing: list[str]) -> list[Encoded]:
            for name in TEXT_ENCODERS:  # on the CPU while the base was kept warm
                if getattr(pipe, name, None) is not None:
                    getattr(pipe, name).to(where)
            return self.family.encode_prompts(self.loaded, missing, where)

        if self.warm_key is None:
            unique = list(dict.fromkeys(prompts))
            return dict(zip(unique, encode(unique), strict=True))
        return self.warm.texts(self.warm_key, prompts, encode)

    def _give_back(self, intact: bool) -> None:
        """Hand the base to the warm cache for the next job (only an intact one: a failed step may not be)."""
        if self.warm_key is None or self.loaded is None:
            return
        if intact:
            self.warm.give_back(self.warm_key, self.loaded)
        self.ctx.log(
            "training.warm",
            "base kept for the next training" if intact else "base dropped after a failure",
            kept=intact,
            **{f"{phase}_seconds": round(sec, 3) for phase, sec in self.phase_seconds.items()},
            **self.warm.stats,
        )
        self.loaded = None
