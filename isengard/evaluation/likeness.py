"""Likeness to a character, on a 0–100 scale a person can read, with its bands in words (`calibration.py`).

The reference identity is the robust centre of the character's photos, and each photo is also scored
against the centre of the *others* (leave one out), so a photo of someone else stands out and the
reference is never judged against itself. The photo checks and the evaluation use this same reference.

Likeness = 100 × (1 − distance / (2 × the same-person distance)), clipped to 0–100: a distance of 0 is 100,
the face model's same-person distance (dlib 0.6) is 50 — "at or above 50 the face model takes them for the
same person" — and 1.2 or more is 0.

A checkpoint's score counts its faces: a probe without a face scores 0, so the median over all probes falls
when faces go missing, and a checkpoint whose probes show too few faces is not judged at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from isengard.evaluation.calibration import (
    MIN_FACE_SHARE,
    ODD_ONE_OUT_GAP,
    ODD_ONE_OUT_MIN_FACES,
    SAME_PERSON_SCORE,
    in_words,
    margin_note,
)


def likeness(distance: float, same_person: float = 0.6) -> float:
    """0–100 from an identity distance; `same_person` maps to 50."""
    return float(np.clip(100.0 * (1.0 - distance / (2 * same_person)), 0.0, 100.0))


def identity_centre(embeddings: list[np.ndarray], same_person: float = 0.6) -> np.ndarray:
    """The set's typical face: the median embedding, recomputed without clear outliers (robust to a
    few photos of someone else pulling the centre towards them)."""
    stack = np.stack(embeddings)
    centre = np.median(stack, axis=0)
    inliers = stack[np.linalg.norm(stack - centre, axis=1) <= same_person]
    if len(inliers) >= 2:
        centre = np.median(inliers, axis=0)
    return centre


@dataclass
class OddOneOut:
    index: int  # the photo's place in the set
    score: float  # its likeness to the others
    typical: float | None  # the set's typical likeness to the others (None: too few faces to say)

    @property
    def sentence(self) -> str:
        if self.score < SAME_PERSON_SCORE:
            return f"looks like someone else ({self.score:.0f}/100 against the other photos)"
        return (
            f"looks less like the others than they look like each other ({self.score:.0f}/100 against a "
            f"typical {self.typical:.0f}): it may be a look-alike"
        )


@dataclass
class Reference:
    centre: np.ndarray
    same_person: float
    leave_one_out: list[float | None]  # per photo: likeness to the others' centre (None: no face)

    def score(self, embedding: np.ndarray) -> float:
        return likeness(float(np.linalg.norm(embedding - self.centre)), self.same_person)

    def typical(self) -> float | None:
        scores = [s for s in self.leave_one_out if s is not None]
        return float(np.median(scores)) if len(scores) >= ODD_ONE_OUT_MIN_FACES else None

    def odd_ones(self) -> list[OddOneOut]:
        """Photos that do not look like the rest: below the same-person mark against the others, or far
        below the set's own typical score (a look-alike passes the mark but not its own set)."""
        typical = self.typical()
        out = []
        for index, score in enumerate(self.leave_one_out):
            if score is None:
                continue
            if score < SAME_PERSON_SCORE or (typical is not None and score < typical - ODD_ONE_OUT_GAP):
                out.append(OddOneOut(index, score, typical))
        return out

    def odd_ones_out(self) -> list[int]:
        return [odd.index for odd in self.odd_ones()]


def reference_identity(embeddings: list[np.ndarray | None], same_person: float = 0.6) -> Reference | None:
    """The character's face from its photos' embeddings (None where a photo has no face)."""
    faces = [(i, np.asarray(e)) for i, e in enumerate(embeddings) if e is not None]
    if not faces:
        return None
    centre = identity_centre([e for _, e in faces], same_person)
    scores: list[float | None] = [None] * len(embeddings)
    for index, embedding in faces:
        others = [e for j, e in faces if j != index]
        if len(others) >= 1:
            distance = float(np.linalg.norm(embedding - identity_centre(others, same_person)))
            scores[index] = likeness(distance, same_person)
    return Reference(centre, same_person, scores)


@dataclass
class ProbeScore:
    prompt: str
    found: bool
    likeness: float | None = None
    yaw: float | None = None
    pitch: float | None = None
    copies_photo: int | None = None  # index of the training photo it copies


@dataclass
class CheckpointSummary:
    step: int
    median_likeness: float | None  # over the probes that show a face
    face_share: float  # probes with a face, 0–1
    copying: bool
    collapsed: bool
    probes: list[ProbeScore] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return self.copying or self.collapsed

    @property
    def faces(self) -> int:
        return sum(p.found for p in self.probes)

    @property
    def score(self) -> float | None:
        """The checkpoint's likeness with its faces counted: the median over every probe, a probe without a
        face scoring 0 (None when no probe shows a face)."""
        if not self.faces:
            return None
        return float(
            np.median([p.likeness if p.found and p.likeness is not None else 0.0 for p in self.probes])
        )

    @property
    def judged(self) -> bool:
        """Enough probes show a face to judge this checkpoint."""
        return bool(self.probes) and self.face_share >= MIN_FACE_SHARE

    def faces_sentence(self) -> str:
        total = len(self.probes)
        return f"{self.faces} of {total} probe{'s' if total != 1 else ''} show{'s' if self.faces == 1 else ''} a face"


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
    """The step with the highest face-counted score among those with enough faces and neither copying nor
    collapsed (ties: the earlier step), and the sentence that says why — or None and the sentence that
    says why there is no recommendation."""
    scored = [s for s in summaries if s.faces]
    if not scored:
        return None, f"No face was found in any probe picture, so how much they look like {name} is unknown."
    judged = [s for s in scored if s.judged]
    if not judged:
        most = max(scored, key=lambda s: (s.face_share, s.step))
        return None, (
            f"Too few probe pictures show a face to judge the likeness (at most {most.faces_sentence()}), "
            "so no checkpoint is recommended."
        )
    clean = [s for s in judged if not s.flagged]
    if not clean:
        return None, "Every checkpoint copies a training photo or gives the same face for every prompt."
    best = max(clean, key=lambda s: (round(s.score, 1), -s.step))
    reason = f"step {best.step:,}: looks most like {name} ({in_words(best.score)}; {best.faces_sentence()}"
    note = margin_note(best.score)
    reason += f"; {note})" if note else ")"
    later = [s for s in summaries if s.step > best.step and s.flagged]
    if later:
        first = min(later, key=lambda s: s.step)
        reason += f" without copying {name}'s photos; step {first.step:,} starts {flag_words(first)}"
    return best, reason + "."


def flag_words(summary: CheckpointSummary) -> str:
    copied = next((p.copies_photo for p in summary.probes if p.copies_photo is not None), None)
    if copied is not None:
        return f"copying photo #{copied + 1}"
    return "giving the same face for every prompt"


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
