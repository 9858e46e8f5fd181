"""The image-backend contract: prompt (+ LoRAs) in, images out.

Backends return PIL images plus the text chunks they want embedded (ComfyUI adds `prompt`/`workflow`);
the core generation service writes the PNGs, their metadata and the history. Progress events:
`step` / `total` (int), `preview` (path of a small JPEG written by `write_preview`, overwritten per step), `message` (str),
`image_index` (int).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from plugins.base import ModelRef, Plugin, RunContext
from plugins.families import family_info

SCHEDULERS = ("default", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "ddim")


def write_preview(image, tmp_dir: Path, job_id: str) -> Path:
    """Write a live preview atomically as JPEG: ~0.2 ms and ~15 KB for 256 px, where PNG costs ~11 ms and
    ~100 KB — previews are approximate pictures sent several times a second, often over a share link."""
    target = Path(tmp_dir) / "previews" / f"{job_id}.jpg"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    image.convert("RGB").save(tmp, format="JPEG", quality=85)
    tmp.replace(target)
    return target


@dataclass(frozen=True)
class LoraRef:
    path: Path
    strength: float = 1.0
    name: str = ""
    sha256: str | None = None
    family: str | None = None


@dataclass
class ImageRequest:
    prompt: str
    base: ModelRef
    negative_prompt: str = ""
    loras: list[LoraRef] = field(default_factory=list)
    width: int = 1024
    height: int = 1024
    steps: int = 28
    guidance: float = 3.5
    scheduler: str = "default"
    seed: int = 0
    count: int = 1
    options: dict[str, Any] = field(default_factory=dict)  # backend-specific, e.g. low-VRAM flags
    device: str | None = None  # the GPU this job holds ("cuda:1"); None: the default device


@dataclass
class GeneratedImage:
    image: Any  # PIL.Image.Image
    seed: int
    png_text: dict[str, str] = field(default_factory=dict)


@dataclass
class ImageResult:
    images: list[GeneratedImage]
    notes: list[str] = field(default_factory=list)  # things the user should know (e.g. prompt truncated)
    info: dict[str, Any] = field(default_factory=dict)  # backend facts: load counts, timings, sampler name


class ImageBackend(Plugin):
    kind: ClassVar[str] = "image"
    families: ClassVar[tuple[str, ...]] = ()

    def size_factor(self, family: str) -> int:
        """Width and height must be multiples of this for the family."""
        return family_info(family).size_multiple

    def base_models(self) -> list[ModelRef] | None:
        """Models this backend offers itself (a ComfyUI server's list); None means the catalogue's."""
        return None

    @abstractmethod
    def run(self, request: ImageRequest, ctx: RunContext) -> ImageResult:
        """Generate `request.count` images; seeds are request.seed, +1, +2…; raise Cancelled on cancel."""
