"""A likeness badge for each picture made with a character: was a face found, and how much does it look
like them (0–100) — so a person can sort a batch by "looks most like them". The character's reference
identity is kept per set of photos (it changes only when a photo does)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from isengard.evaluation.likeness import Reference, reference_identity
from isengard.obs import event

_references: OrderedDict[tuple, Reference | None] = OrderedDict()
_lock = threading.Lock()


def _reference(evaluator, photos: list[Path]) -> Reference | None:
    key = (evaluator.name, *((str(p), p.stat().st_mtime_ns) for p in photos if p.exists()))
    with _lock:
        if key in _references:
            return _references[key]
    found = reference_identity([r.embedding for r in evaluator.read(photos)], evaluator.same_person_distance)
    with _lock:
        _references[key] = found
        while len(_references) > 32:
            _references.popitem(last=False)
    return found


def likeness_badges(evaluator, photos: list[Path], pictures: list[Path]) -> list[dict[str, Any]]:
    """Per picture {"face": bool, "likeness": 0–100 or None}; never raises (a badge is not worth a job)."""
    try:
        reference = _reference(evaluator, photos)
        out = []
        for reading in evaluator.read(pictures):
            score = reference.score(reading.embedding) if reading.found and reference else None
            out.append({"face": reading.found, "likeness": None if score is None else round(score, 1)})
        return out
    except Exception as exc:
        event("likeness.badge_failed", f"{exc!r}", level="WARNING")
        return [{"face": None, "likeness": None} for _ in pictures]


def badge_text(badge: dict[str, Any] | None, name: str) -> str:
    if not badge or badge.get("face") is None:
        return ""
    if not badge["face"]:
        return "no face found"
    return (
        f"looks like {name}: {badge['likeness']:.0f}/100"
        if badge.get("likeness") is not None
        else "face found"
    )
