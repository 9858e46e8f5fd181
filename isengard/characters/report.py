"""Turning measurements into advice: badges per photo and a readiness card for the set.

Warnings inform; they never block training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from isengard.characters.checks import DLIB_SAME_PERSON

RECOMMENDED_MIN, RECOMMENDED_MAX = 10, 30
BLURRY_BELOW = 40.0
SMALL_FACE_BELOW = 0.02
DEFAULT_TRAINING_RESOLUTION = 1024
LOW_RES_SHARE = 0.5  # "smaller than the training size" only when well below it: upscaling a little is fine
REMOVABLE = ("no_face", "different_person", "near_duplicate", "blurry")  # a suggestion can remove these


@dataclass
class Flag:
    code: str
    severity: str  # "ok" | "info" | "warn"
    label: str
    fix: str = ""


@dataclass
class PhotoReport:
    photo_id: int
    flags: list[Flag]

    @property
    def worst(self) -> str:
        severities = {f.severity for f in self.flags}
        return "warn" if "warn" in severities else "info" if "info" in severities else "ok"

    def short_badge(self) -> str:
        """One short label for a thumbnail: the first warning (and how many more), else good."""
        warnings = [f.label for f in self.flags if f.severity == "warn"]
        if warnings:
            more = f" +{len(warnings) - 1}" if len(warnings) > 1 else ""
            return f"⚠ {warnings[0]}{more}"
        if any(f.code == "unchecked" for f in self.flags):
            return "… checking"
        return "✓ good"

    def badges(self) -> str:
        icons = {"ok": "✓", "info": "ℹ", "warn": "⚠"}
        return " · ".join(f"{icons[f.severity]} {f.label}" for f in self.flags)


@dataclass
class Suggestion:
    """One piece of advice about the set, naming the photos it concerns (the UI can select them)."""

    code: str
    text: str
    photo_ids: list[int]
    removable: bool = False  # "Remove these 2" makes sense (not for "add more photos")


@dataclass
class Readiness:
    status: str  # "not_ready" | "needs_attention" | "ready"
    headline: str
    photo_count: int
    good_count: int
    warning_count: int
    unchecked_count: int
    fixes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    suggestions: list[Suggestion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def photo_flags(
    metrics: dict[str, Any] | None, training_resolution: int = DEFAULT_TRAINING_RESOLUTION
) -> list[Flag]:
    if not metrics:
        return [Flag("unchecked", "info", "not checked yet", "Run “Check photos”.")]
    flags: list[Flag] = []
    faces = metrics.get("faces", 0)
    if faces == 0:
        flags.append(
            Flag("no_face", "warn", "no face found", "Use photos where the face is clearly visible.")
        )
    elif faces > 1:
        flags.append(
            Flag("many_faces", "warn", f"{faces} faces", "Crop to the one person (auto-crop can help).")
        )
    if faces and (metrics.get("face_frac") or 0) < SMALL_FACE_BELOW:
        flags.append(
            Flag("small_face", "warn", "face is small", "Crop closer to the face (auto-crop can do it).")
        )
    if metrics.get("sharpness", 999) < BLURRY_BELOW:
        flags.append(Flag("blurry", "warn", "looks blurry", "Replace it with a sharper photo."))
    short = min(metrics.get("width", 0), metrics.get("height", 0))
    if short and short < training_resolution * LOW_RES_SHARE:
        flags.append(
            Flag(
                "low_res",
                "info",
                f"small: {short}px (training uses {training_resolution}px)",
                "Larger photos give sharper results; this one will be upscaled a lot.",
            )
        )
    if metrics.get("near_duplicate_of"):
        flags.append(
            Flag(
                "near_duplicate",
                "warn",
                "almost the same as another photo",
                "Keep the better of the two; duplicates teach nothing new.",
            )
        )
    odd = metrics.get("odd_one_out")
    if "odd_one_out" not in metrics and (metrics.get("identity_distance") or 0) > DLIB_SAME_PERSON:
        odd = "looks like someone else"  # checked before the set-relative rule: the absolute mark
    if odd:
        flags.append(
            Flag(
                "different_person",
                "warn",
                "may be a different person",
                f"This photo {odd}. Check it shows the same person as the others; remove it if not.",
            )
        )
    if not flags:
        flags.append(Flag("good", "ok", "good"))
    elif not any(f.severity == "warn" for f in flags):
        flags.insert(0, Flag("good", "ok", "good"))
    return flags


def readiness(
    photo_metrics: dict[int, dict[str, Any] | None], training_resolution: int = DEFAULT_TRAINING_RESOLUTION
) -> tuple[Readiness, dict[int, PhotoReport]]:
    reports = {pid: PhotoReport(pid, photo_flags(m, training_resolution)) for pid, m in photo_metrics.items()}
    count = len(reports)
    unchecked = sum(1 for m in photo_metrics.values() if not m)
    warned = [r for r in reports.values() if r.worst == "warn"]
    counts: dict[str, int] = {}
    for report in reports.values():
        for flag in report.flags:
            counts[flag.code] = counts.get(flag.code, 0) + 1
    fixes: list[str] = []
    if count == 0:
        return (
            Readiness(
                "not_ready",
                "Add photos to start: 10–30 clear photos of one person.",
                0,
                0,
                0,
                0,
                ["Drop 10–30 photos of the person: different days, clothes, angles and light."],
                counts,
            ),
            reports,
        )
    if count < RECOMMENDED_MIN:
        fixes.append(
            f"Add {RECOMMENDED_MIN - count} more photo{'s' if RECOMMENDED_MIN - count != 1 else ''}: "
            "10–30 is recommended for a good likeness."
        )
    if count > RECOMMENDED_MAX:
        fixes.append(f"{count} photos is more than needed: keep the best {RECOMMENDED_MAX} to train faster.")
    advice = {
        "different_person": "Remove photos that may show someone else — they blur the likeness.",
        "no_face": "Remove or replace photos where no face was found.",
        "many_faces": "Crop group photos to the one person (or use auto-crop).",
        "small_face": "Use auto-crop so the face fills more of each photo.",
        "blurry": "Replace blurry photos with sharp ones.",
        "near_duplicate": "Remove near-duplicates: variety teaches more than repetition.",
        "low_res": "Photos smaller than the training size work, but larger ones give sharper results.",
        "unchecked": "Run “Check photos” to check the new photos.",
    }
    suggestions = [Suggestion("count", fix, []) for fix in fixes]
    for code, text in advice.items():
        if counts.get(code):
            fixes.append(f"{text} ({counts[code]} photo{'s' if counts[code] > 1 else ''})")
            ids = [pid for pid, r in reports.items() if any(f.code == code for f in r.flags)]
            if code == "near_duplicate":  # keep one of each pair: only the later photo is suggested
                ids = [
                    pid for pid in ids if photo_metrics[pid] and photo_metrics[pid].get("near_duplicate_of")
                ]
            suggestions.append(Suggestion(code, text, sorted(ids), removable=code in REMOVABLE))
    good = count - len(warned)
    if unchecked:
        status, headline = (
            "needs_attention",
            f"{unchecked} photo{'s' if unchecked != 1 else ''} not checked yet.",
        )
    elif count < RECOMMENDED_MIN or len(warned) * 3 >= count:
        status, headline = "needs_attention", f"{good} of {count} photos look good — see the suggestions."
    else:
        status = "ready"
        headline = f"{good} of {count} photos look good."  # the card's title already says "Ready to train"
    return Readiness(
        status, headline, count, good, len(warned), unchecked, fixes, counts, suggestions
    ), reports
