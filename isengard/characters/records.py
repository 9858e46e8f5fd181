"""What the characters service hands out: a character, a photo, the outcome of an upload."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass
class Photo:
    id: int
    character_id: int
    sha256: str
    path: Path
    original_name: str
    width: int
    height: int
    format: str
    size_bytes: int
    caption: str
    caption_source: str
    checks: dict[str, Any] | None
    crop_path: Path | None
    use_crop: bool

    @property
    def training_path(self) -> Path:
        return self.crop_path if self.use_crop and self.crop_path and self.crop_path.exists() else self.path

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path),
            "original_name": self.original_name,
            "width": self.width,
            "height": self.height,
            "format": self.format,
            "size_bytes": self.size_bytes,
            "caption": self.caption,
            "caption_source": self.caption_source,
            "checks": {k: v for k, v in (self.checks or {}).items() if k != "embedding"},
            "crop_path": str(self.crop_path) if self.crop_path else None,
            "use_crop": self.use_crop,
        }


@dataclass
class Character:
    id: int
    name: str
    trigger_word: str
    class_word: str
    created_at: float
    photo_count: int = 0
    cover: Path | None = None
    folder: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "trigger_word": self.trigger_word,
            "class_word": self.class_word,
            "photo_count": self.photo_count,
            "cover": str(self.cover) if self.cover else None,
            "created_at": self.created_at,
        }


@dataclass
class AddResult:
    added: list[Photo] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (original name, reason)
    duplicates: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [_count(len(self.added), "photo") + " added"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already added")
        if self.rejected:
            parts.append(f"{len(self.rejected)} not added")
        return ", ".join(parts) + "."

    def lines(self) -> list[str]:
        """One line per file that was not added, with its reason (the per-file summary)."""
        out = [f"{name}: {reason}" for name, reason in self.rejected]
        out += [f"{name}: already added" for name in self.duplicates]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": [p.to_dict() for p in self.added],
            "rejected": [{"file": name, "reason": reason} for name, reason in self.rejected],
            "duplicates": self.duplicates,
        }
