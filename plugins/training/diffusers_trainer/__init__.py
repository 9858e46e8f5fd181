"""The built-in trainer: LoRA on FLUX, SDXL and SD 1.5 with diffusers + peft, in this process."""

from __future__ import annotations

from plugins.base import Availability, PluginSettings, RunContext, missing_packages
from plugins.training.interface import TrainingBackend, TrainingRequest, TrainingResult


class DiffusersTrainer(TrainingBackend):
    name = "diffusers"
    version = "1.0.0"  # bump with any change to training internals (tests/golden records the loss curve)
    label = "Built-in trainer (diffusers + peft)"
    description = "Trains the LoRA inside Isengard on FLUX.1, SDXL or SD 1.5."
    families = ("flux", "sdxl", "sd15")

    def __init__(self, settings: PluginSettings):
        self.settings = settings

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
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        from plugins.training.diffusers_trainer.trainer import LoraTrainer

        diffusers_logging.disable_progress_bar()  # progress goes to the job, not to a terminal bar
        transformers_logging.disable_progress_bar()

        return LoraTrainer(request, ctx, backend=self.name, version=self.version).run()
