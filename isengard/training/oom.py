"""An out-of-memory is recovered, not reported: the training steps down to the next lighter settings the
memory model names (gradient checkpointing, the 8-bit optimiser, captions on the CPU, a 4-bit base,
smaller pictures, one picture per step — those that keep quality first), frees the GPU, and resumes from
its last checkpoint, saying so in the status. Only when nothing lighter would lower the part that ran out
does the job fail, with what would fit."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from isengard.memory import lighter, training_memory
from isengard.obs import event
from plugins.base import PluginError
from plugins.training.interface import TrainingParams

PHASE_WORDS = {"preparing": "while preparing", "training": "", "sampling": "while making samples"}


def step_down(family: str, params: TrainingParams, error: PluginError) -> tuple[TrainingParams, str]:
    """The lighter settings to continue with, and the sentence that says so; raises a PluginError with what
    would fit when nothing lighter helps."""
    details = error.details or {}
    phase = details.get("phase")
    options = lighter(family, params, cuda=bool(details.get("on_gpu")), phase=phase)
    if not options:
        raise PluginError(_nothing_fits(family, params, details), code="oom", details=details) from None
    chosen = options[0]
    lighter_params = replace(params, **chosen.overrides)
    where = f" at {params.resolution} px" if "resolution" in chosen.overrides else ""
    when = PHASE_WORDS.get(phase or "", "")
    step = details.get("resume_step") or 0
    start = f"from step {step}" if step else "from the start"
    sentence = (
        f"Out of GPU memory{where}{(' ' + when) if when else ''} — continuing {chosen.sentence} {start}"
    )
    return lighter_params, sentence


def _nothing_fits(family: str, params: TrainingParams, details: dict[str, Any]) -> str:
    gpu = details.get("vram_gb")
    estimate = training_memory(family, params)
    sentence = "The GPU ran out of memory even with the lightest settings Isengard can choose"
    if estimate is not None:
        sentence += f": they need about {estimate.peak_gb:.0f} GB"
        if isinstance(gpu, int | float):
            sentence += f" and this GPU has {gpu:.0f} GB"
    return sentence + ". Use a GPU with more memory, or a smaller model family."


def record(runner, job_id: str, params: TrainingParams, sentence: str) -> None:
    """The new settings become the job's, so a later Resume continues with them too."""
    runner.update_params(job_id, {"params": asdict(params), "resume": True})
    event("training.oom_step_down", sentence, job_id=job_id, **{k: v for k, v in asdict(params).items() if k in
          ("resolution", "gradient_checkpointing", "optimizer", "quantize_base", "low_vram", "batch_size")})  # fmt: skip
