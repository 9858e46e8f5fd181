"""The built-in trainer: LoRA with diffusers + peft, in this process, on every family that has a recipe in
`families/` (FLUX.1, FLUX.2 [klein] and [dev], Z-Image, Qwen-Image, SDXL, SD 1.5)."""

from __future__ import annotations

from plugins.base import Availability, PluginSettings, RunContext, missing_packages
from plugins.training.interface import TrainingBackend, TrainingRequest, TrainingResult


class DiffusersTrainer(TrainingBackend):
    name = "diffusers"
    version = "1.0.0"  # bump with any change to training internals (tests/golden records the loss curve)
    label = "Built-in trainer (diffusers + peft)"
    description = "Trains the LoRA inside Isengard (FLUX.1, FLUX.2 [klein] and [dev], Z-Image, Qwen-Image, SDXL, SD 1.5)."
    families = ("flux", "sdxl", "sd15", "flux2_klein", "flux2", "zimage", "qwen_image")

    def __init__(self, settings: PluginSettings, budget_bytes: int | None = None):
        from plugins.training.diffusers_trainer.warm import WarmCache

        self.settings = settings
        self.warm = WarmCache(budget_bytes if budget_bytes is not None else _memory_budget(settings))

    @property
    def stats(self) -> dict[str, int]:
        """The warm path's counters: bases loaded and reused, latents and prompts encoded and reused."""
        return self.warm.stats

    def availability(self) -> Availability:
        missing = missing_packages("torch", "diffusers", "peft")
        if missing:
            return Availability.no(f"a training library is missing ({', '.join(missing)})")
        if self.settings.mode == "fast-test":
            return Availability.no("fast-test mode simulates training; set ISENGARD_MODE=production to train")
        gpu = self.settings.gpu_name
        if gpu:
            return Availability.yes(f"ready on {gpu}")
        return Availability.yes("ready on the CPU (only the tiny test models are practical here)")

    def run(self, request: TrainingRequest, ctx: RunContext) -> TrainingResult:
        import sys

        if "diffusers" not in sys.modules or "peft" not in sys.modules:
            ctx.progress(phase="loading", message="Loading the training libraries (once per start)")
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        from plugins.training.diffusers_trainer.trainer import LoraTrainer

        diffusers_logging.disable_progress_bar()  # progress goes to the job, not to a terminal bar
        transformers_logging.disable_progress_bar()

        return LoraTrainer(request, ctx, backend=self.name, version=self.version, warm=self.warm).run()


def _memory_budget(settings: PluginSettings) -> int:
    """What a kept base may take: most of the GPU, or a third of the RAM on a CPU machine."""
    import psutil

    if settings.gpu_name and settings.gpu_vram_gb:
        return int(settings.gpu_vram_gb * 1024**3 * 0.85)
    return int(psutil.virtual_memory().total / 3)
