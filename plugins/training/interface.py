"""The training-backend contract: a LoRA from a captioned dataset and a base model.

LoRA is the only method: DoRA is not implemented and full fine-tuning is out of scope (see capabilities).

Progress events a backend sends through `ctx.progress(...)` (all optional):
`phase` (str), `step` / `total` (int), `loss` (float), `it_s` (float), `eta_s` (float), `message` (str),
`samples` (list of image paths), `checkpoint` (path), `lr` (float).
On cancel a backend stops within one step, keeps its last checkpoint and raises `plugins.base.Cancelled`.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from plugins.base import ModelRef, Plugin, RunContext

OPTIMIZERS = ("adamw", "adamw8bit", "prodigy")
LR_SCHEDULERS = ("constant", "constant_with_warmup", "cosine", "linear")
PRECISIONS = ("bf16", "fp16", "fp32")


def _f(default: Any, help: str, *, advanced: bool = False, label: str = "", **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, "advanced": advanced, "label": label, **extra})


@dataclass
class TrainingParams:
    """Every training knob, with the plain-language help the UI shows as its tooltip."""

    steps: int = _f(
        1000,
        "How long to train. More steps learn the face better but can over-fit; 1000–2000 suits 15–30 photos.",
        label="Training steps",
        min=1,
        max=100000,
        range_hint="1,000–2,000 suits most faces.",
    )
    rank: int = _f(
        16,
        "LoRA size (rank). Higher captures more detail but makes a bigger file and trains "
        "slower; 16 is a good start for a face.",
        label="LoRA rank",
        min=1,
        max=256,
        range_hint="16 is a good start for a face.",
    )
    alpha: float = _f(
        16.0,
        "Scales the LoRA's effect during training; keep it equal to the rank unless you know why.",
        advanced=True,
        label="LoRA alpha",
        min=0.1,
        max=512,
    )
    learning_rate: float = _f(
        1e-4,
        "How big each learning step is. Too high ruins the image, too low "
        "learns nothing. Prodigy ignores this (it finds its own).",
        label="Learning rate",
        min=1e-7,
        max=10.0,
        range_hint="0.0001 suits most faces.",
    )
    optimizer: str = _f(
        "adamw",
        "The algorithm that updates the LoRA. AdamW is safe; 8-bit AdamW saves "
        "memory (NVIDIA GPUs only); Prodigy picks its own learning rate.",
        advanced=True,
        label="Optimizer",
        choices=OPTIMIZERS,
        choice_labels={
            "adamw": "AdamW — safe default",
            "adamw8bit": "8-bit AdamW — less memory (NVIDIA only)",
            "prodigy": "Prodigy — finds its own learning rate",
        },
    )
    lr_scheduler: str = _f(
        "constant",
        "How the learning rate changes over the run.",
        advanced=True,
        label="Learning-rate schedule",
        choices=LR_SCHEDULERS,
        choice_labels={
            "constant": "Constant — the same all the way (default)",
            "constant_with_warmup": "Constant after a gentle start",
            "cosine": "Cosine — slows down towards the end",
            "linear": "Linear — slows down steadily",
        },
    )
    warmup_steps: int = _f(
        0,
        "Steps at the start during which the learning rate ramps up gently.",
        advanced=True,
        label="Warm-up steps",
        min=0,
        max=10000,
    )
    batch_size: int = _f(
        1, "Photos per step. Larger needs more GPU memory.", advanced=True, label="Batch size", min=1, max=16
    )
    resolution: int = _f(
        1024,
        "Training image size in pixels (the long side). Photos are resized into buckets of similar shape.",
        label="Resolution",
        min=64,
        max=2048,
    )
    buckets: bool = _f(
        True,
        "Keep each photo's shape (portrait, landscape) instead of cropping to a square.",
        advanced=True,
        label="Aspect-ratio buckets",
    )
    caption_dropout: float = _f(
        0.05,
        "Sometimes train without the caption so the LoRA also works with short prompts.",
        advanced=True,
        label="Caption dropout",
        min=0.0,
        max=1.0,
    )
    gradient_checkpointing: bool = _f(
        True,
        "Saves a lot of GPU memory for about 20% more time.",
        advanced=True,
        label="Gradient checkpointing",
    )
    mixed_precision: str = _f(
        "bf16",
        "Number format for the frozen model. bf16 halves memory on modern GPUs; the CPU always uses fp32.",
        advanced=True,
        label="Precision",
        choices=PRECISIONS,
        choice_labels={
            "bf16": "Half precision (bf16) — modern GPUs",
            "fp16": "Half precision (fp16) — older GPUs",
            "fp32": "Full precision — most memory",
        },
    )
    quantize_base: bool = _f(
        False,
        "Load the base model in 4-bit (QLoRA) to fit small GPUs. NVIDIA GPUs only; a little slower.",
        advanced=True,
        label="4-bit base (QLoRA)",
    )
    train_conv: bool = _f(
        False,
        "Also train the convolution layers (SD 1.5/SDXL): captures more style, but each step takes about "
        "1.3× as long and the file is bigger. Off unless you want the style too.",
        advanced=True,
        label="Train conv layers",
    )
    conv_rank: int = _f(
        8,
        "Size of the convolution LoRA when conv layers are trained.",
        advanced=True,
        label="Conv rank",
        min=1,
        max=128,
    )
    guidance: float = _f(
        1.0,
        "FLUX only: the guidance value the model sees while training.",
        advanced=True,
        label="Training guidance (FLUX)",
        min=0.0,
        max=10.0,
    )
    seed: int = _f(
        42,
        "Makes a run repeatable: the same seed, data and settings give the same LoRA.",
        advanced=True,
        label="Seed",
        min=0,
        max=2**31 - 1,
    )
    save_every: int = _f(
        250,
        "Save a checkpoint every this many steps (you can resume from it or use it).",
        label="Checkpoint every",
        min=1,
        max=100000,
    )
    max_checkpoints: int = _f(
        4,
        "How many step checkpoints to keep (older ones are removed; the final LoRA is always kept).",
        advanced=True,
        label="Checkpoints kept",
        min=1,
        max=100,
    )
    sample_every: int = _f(
        250,
        "Make preview images every this many steps so you can watch it learn. 0 turns previews off.",
        label="Samples every",
        min=0,
        max=100000,
    )
    stop_when_done: bool = _f(
        True,
        "Stop by itself once the likeness has not improved for a few rounds of samples, or as soon as the "
        "LoRA starts copying a training photo, and keep the best checkpoint. Needs samples and faces in them.",
        advanced=True,
        label="Stop when it is done",
    )
    stop_patience: int = _f(
        3,
        "How many rounds of samples without a better likeness before the training stops itself.",
        advanced=True,
        label="Rounds without progress before stopping",
        min=1,
        max=50,
    )
    sample_steps: int = _f(
        20, "Denoising steps for each preview image.", advanced=True, label="Sample steps", min=1, max=100
    )
    compile_blocks: bool = _f(
        False,
        "Compile the model's blocks for faster steps after about a minute of compiling. NVIDIA GPUs only.",
        advanced=True,
        label="Compile the model",
    )
    low_vram: bool = _f(
        False,
        "Read the captions on the CPU and work on pictures in tiles: several GB less GPU memory, a slower start.",
        advanced=True,
        label="Low-VRAM mode",
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            lo, hi = f.metadata.get("min"), f.metadata.get("max")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                label = f.metadata.get("label") or f.name
                raise ValueError(f"{label} must be between {lo} and {hi} (got {value})")
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ValueError(f"{f.metadata.get('label') or f.name} must be one of {', '.join(choices)}")

    @classmethod
    def help_text(cls) -> dict[str, dict[str, Any]]:
        return {f.name: dict(f.metadata) | {"default": f.default} for f in fields(cls)}


@dataclass(frozen=True)
class DatasetItem:
    image: Path
    caption: str


@dataclass
class TrainingRequest:
    job_id: str
    name: str  # file name stem for the LoRA, e.g. "alice_flux"
    trigger_word: str
    dataset: list[DatasetItem]
    base: ModelRef
    params: TrainingParams
    output_dir: Path  # the run folder: checkpoints, samples, state
    sample_prompts: list[str] = field(default_factory=list)
    class_word: str = "person"
    character: str = ""
    resume: bool = False  # continue from the newest checkpoint in output_dir
    device: str | None = None  # the GPU this job holds ("cuda:1"); None: the default device


@dataclass
class TrainingResult:
    lora_path: Path
    steps: int
    checkpoints: list[Path] = field(default_factory=list)
    samples: list[Path] = field(default_factory=list)
    final_loss: float | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    backend_version: str = ""


class TrainingBackend(Plugin):
    kind: ClassVar[str] = "training"
    families: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def run(self, request: TrainingRequest, ctx: RunContext) -> TrainingResult:
        """Train; report progress; return the final LoRA. Raise Cancelled on cancel."""
