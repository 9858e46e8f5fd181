"""The captioner contract: photos in, one caption per photo out, each containing the trigger word."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from plugins.base import Plugin, RunContext


@dataclass
class CaptionRequest:
    images: list[Path]
    trigger_word: str
    class_word: str = "person"
    template: str = "a photo of {trigger}, a {class_word}"


@dataclass
class CaptionResult:
    captions: list[str]
    notes: list[str] = field(default_factory=list)


class Captioner(Plugin):
    kind: ClassVar[str] = "captioning"

    @abstractmethod
    def run(self, request: CaptionRequest, ctx: RunContext) -> CaptionResult:
        """Return exactly one caption per image, in order, each containing `request.trigger_word`."""
