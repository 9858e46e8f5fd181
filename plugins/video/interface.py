"""The video-backend contract. Scaffold only: no video backend ships and no video code runs.

It exists so the Video tab, the capability matrix and future backends share one stable shape.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from plugins.base import Plugin, RunContext


@dataclass
class VideoRequest:
    prompt: str
    image: Path | None = None  # optional first frame (image-to-video)
    lora: Path | None = None
    frames: int = 49
    fps: int = 16
    width: int = 832
    height: int = 480
    seed: int = 0


@dataclass
class VideoResult:
    path: Path
    frames: int
    fps: int


class VideoBackend(Plugin):
    kind: ClassVar[str] = "video"

    @abstractmethod
    def run(self, request: VideoRequest, ctx: RunContext) -> VideoResult:
        """Render a clip. No implementation ships yet."""
