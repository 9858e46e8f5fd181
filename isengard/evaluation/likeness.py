"""Likeness to a character, on a 0–100 scale a person can read.

The reference identity is the robust centre of the character's photos (the same rule the photo checks
use), and each photo is also scored against the centre of the *others* (leave one out), so a photo of
someone else stands out and the reference is never judged against itself.

Likeness = 100 × (1 − distance / (2 × the same-person distance)), clipped to 0–100: a distance of 0 is 100, the face model's
same-person distance (dlib 0.6) is 50 — "at or above 50 the face model takes them for the same
person" — and 1.2 or more is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from isengard.characters.checks import identity_centre


def likeness(distance: float, same_person: float = 0.6) -> float:
    """0–100 from an identity distance; `same_person` maps to 50."""
    return float(np.clip(100.0 * (1.0 - distance / (2 * same_person)), 0.0, 100.0))


@dataclass
class Reference:
    centre: np.ndarray
    same_person: float
    leave_one_out: list[float | None]  # per photo: likeness to the others' centre (None: no face)

    def score(self, embedding: np.ndarray) -> float:
        return likeness(float(np.linalg.norm(embedding - self.centre)), self.same_person)

    def odd_ones_out(self) -> list[int]:
        """Photos that do not look like the rest (below the same-person mark against the others)."""
        return [i for i, s in enumerate(self.leave_one_out) if s is not None and s < 50.0]


def reference_identity(embeddings: list[np.ndarray | None], same_person: float = 0.6) -> Reference | None:
    """The character's face from its photos' embeddings (None where a photo has no face)."""
    faces = [(i, np.asarray(e)) for i, e in enumerate(embeddings) if e is not None]
    if not faces:
        return None
    centre = identity_centre([e for _, e in faces])
    scores: list[float | None] = [None] * len(embeddings)
    for index, embedding in faces:
        others = [e for j, e in faces if j != index]
        if len(others) >= 1:
            scores[index] = likeness(float(np.linalg.norm(embedding - identity_centre(others))), same_person)
    return Reference(centre, same_person, scores)


@dataclass
class ProbeScore:
    prompt: str
    found: bool
    likeness: float | None = None
    yaw: float | None = None
    pitch: float | None = None
    copies_photo: int | None = None  # index of the training photo it nearly copies


@dataclass
class CheckpointSummary:
    step: int
    median_likeness: float | None
    face_share: float  # probes with a face, 0–1
    copying: bool
    collapsed: bool
    probes: list[ProbeScore] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return self.copying or self.collapsed


def summarise(step: int, probes: list[ProbeScore], collapsed: bool) -> CheckpointSummary:
    scores = [p.likeness for p in probes if p.found and p.likeness is not None]
    return CheckpointSummary(
        step=step,
        median_likeness=float(np.median(scores)) if scores else None,
        face_share=sum(p.found for p in probes) / len(probes) if probes else 0.0,
        copying=any(p.copies_photo is not None for p in probes),
        collapsed=collapsed,
        probes=probes,
    )


def best_checkpoint(summaries: list[CheckpointSummary], name: str) -> tuple[CheckpointSummary | None, str]:
    """The step with the highest median likeness that is not flagged (ties: the earlier step), and the
    sentence that says why — or None and the sentence that says why there is no recommendation."""
    scored = [s for s in summaries if s.median_likeness is not None]
    if not scored:
        return None, f"No face was found in any probe picture, so how much they look like {name} is unknown."
    clean = [s for s in scored if not s.flagged]
    if not clean:
        return None, "Every checkpoint copies a training photo or gives the same face for every prompt."
    best = max(clean, key=lambda s: (round(s.median_likeness, 1), -s.step))
    reason = f"step {best.step:,}: looks most like {name} ({best.median_likeness:.0f}/100)"
    later = [s for s in summaries if s.step > best.step and s.flagged]
    if later:
        first = min(later, key=lambda s: s.step)
        copied = next((p.copies_photo for p in first.probes if p.copies_photo is not None), None)
        sign = (
            f"copying photo #{copied + 1}" if copied is not None else "giving the same face for every prompt"
        )
        reason += f" without copying {name}'s photos; step {first.step:,} starts {sign}"
    return best, reason + "."


TURNED = 20.0  # degrees of yaw from which a face counts as turned (three-quarter or profile)


def pose_sentence(summary: CheckpointSummary) -> str | None:
    """Whether the likeness holds when the head is turned, from the probes' yaw."""
    turned = [
        p.likeness
        for p in summary.probes
        if p.likeness is not None and p.yaw is not None and abs(p.yaw) >= TURNED
    ]
    facing = [
        p.likeness
        for p in summary.probes
        if p.likeness is not None and p.yaw is not None and abs(p.yaw) < TURNED
    ]
    if not turned:
        return "No probe showed the head turned, so the likeness in profile is not known yet."
    turned_m = float(np.median(turned))
    if not facing:
        return f"Head turned: {turned_m:.0f}/100."
    facing_m = float(np.median(facing))
    holds = "holds" if turned_m >= min(50.0, facing_m - 10) else "drops"
    return f"The likeness {holds} with the head turned ({turned_m:.0f}/100, facing the camera {facing_m:.0f}/100)."
