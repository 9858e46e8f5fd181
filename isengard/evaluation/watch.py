"""Likeness while a LoRA trains: every time the trainer's samples (the probe set) appear, they are scored
against the character's photos and stored with the job and step; at the end the best checkpoint is
picked with its reason. Used by the training service for every backend (the built-in trainer, ai-toolkit,
the fast-test mock): all of them report their samples the same way.

The reference identity is computed only when the first probe with a face appears, so a run whose probes
never show a face (the tiny test models draw noise) costs no more than the face detection.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from isengard.evaluation.calibration import band, scale_sentence
from isengard.evaluation.copying import copied_photo, is_collapsed, thumbprint
from isengard.evaluation.likeness import (
    CheckpointSummary,
    ProbeScore,
    Reference,
    best_checkpoint,
    flag_words,
    reference_identity,
    summarise,
)
from isengard.obs import event


class LikenessWatch:
    def __init__(
        self,
        *,
        db,
        evaluator,
        job_id: str,
        photos: list[Path],
        prompts: list[str],
        name: str,
        photo_names: dict[Path, str] | None = None,
    ):
        self.db = db
        self.evaluator = evaluator
        self.job_id = job_id
        self.photos = [Path(p) for p in photos]
        self.photo_names = [(photo_names or {}).get(p, p.name) for p in self.photos]  # as uploaded
        self.prompts = prompts
        self.name = name
        self.seconds = 0.0
        self._reference: Reference | None = None
        self._prints = None
        threading.Thread(target=self._warm_up, name="likeness-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        """The face models load while the base model loads and the first steps run, not in their way."""
        try:
            self.evaluator.warm_up()
        except Exception as exc:
            event("likeness.warm_up_failed", f"{exc!r}", level="WARNING", job_id=self.job_id)

    def _ensure_reference(self) -> Reference | None:
        """The character's reference face and the photos' prints with their aligned faces (read once, when
        the first probe with a face appears)."""
        if self._reference is None and self.photos:
            readings = self.evaluator.read(self.photos)
            self._reference = reference_identity(
                [r.embedding for r in readings], self.evaluator.same_person_distance
            )
            self._prints = [thumbprint(p, r) for p, r in zip(self.photos, readings, strict=True)]
        return self._reference

    def on_samples(self, step: int, images: list[str]) -> dict[str, Any] | None:
        """Score one sample point's pictures; returns the summary for the progress event."""
        started = time.monotonic()
        try:
            summary = self._score(step, [Path(p) for p in images])
        except Exception as exc:  # scoring must never stop a training: log it and go on
            event("likeness.failed", f"step {step}: {exc!r}", level="WARNING", job_id=self.job_id)
            return None
        finally:
            self.seconds += time.monotonic() - started
        return _event(summary)

    def _score(self, step: int, images: list[Path]) -> CheckpointSummary:
        readings = self.evaluator.read(images)
        reference = self._ensure_reference() if any(r.found for r in readings) else None
        if self._prints is None:  # no face yet: the whole-picture prints (a faceless copy is caught too)
            self._prints = [thumbprint(p) for p in self.photos]
        same_person = self.evaluator.same_person_distance
        probes = []
        for index, (path, reading) in enumerate(zip(images, readings, strict=True)):
            score = None
            if reading.found and reference is not None:
                score = reference.score(reading.embedding)
            probes.append(
                ProbeScore(
                    prompt=self.prompts[index] if index < len(self.prompts) else "",
                    found=reading.found,
                    likeness=score,
                    yaw=reading.yaw,
                    pitch=reading.pitch,
                    copies_photo=(
                        copied_photo(thumbprint(path, reading), self._prints, same_person)
                        if step > 0
                        else None
                    ),
                )
            )
        collapsed = is_collapsed([r.embedding for r in readings if r.found], same_person)
        summary = summarise(step, probes, collapsed)
        now = time.time()
        for index, (path, probe) in enumerate(zip(images, probes, strict=True)):
            self.db.execute(
                "INSERT OR REPLACE INTO probe_scores(job_id, step, idx, prompt, image, found, likeness, yaw,"
                " pitch, copies_photo, collapsed, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (self.job_id, step, index, probe.prompt, str(path), int(probe.found), probe.likeness,
                 probe.yaw, probe.pitch, probe.copies_photo, int(collapsed), now),
            )  # fmt: skip
        event(
            "likeness.scored",
            f"step {step}: likeness {summary.score} ({summary.faces_sentence()})",
            job_id=self.job_id,
            step=step,
            faces=sum(p.found for p in probes),
            score=summary.score,
            copying=summary.copying,
            collapsed=collapsed,
        )
        return summary

    def recommend(self, checkpoint_steps: set[int]) -> dict[str, Any]:
        """The recommendation among the steps that have a checkpoint (or the final LoRA)."""
        summaries = [s for s in load_summaries(self.db, self.job_id) if s.step > 0]
        usable = [s for s in summaries if s.step in checkpoint_steps]
        best, reason = best_checkpoint(usable, self.name)
        if best is None and summaries and not usable:
            reason = "No checkpoint was saved at a step whose probes were scored."
        odd = self._reference.odd_ones() if self._reference else []
        return {
            "step": best.step if best else None,
            "likeness": round(best.score, 1) if best else None,
            "band": band(best.score).words if best else None,
            "faces": best.faces_sentence() if best else None,
            "reason": reason,
            # leave-one-out: below the same-person mark against the others, or far below the set's own
            "photos_unlike_the_rest": [self.photo_names[o.index] for o in odd],
            "photo_notes": [{"photo": self.photo_names[o.index], "why": o.sentence} for o in odd],
            "scoring_seconds": round(self.seconds, 2),
        }


def _event(summary: CheckpointSummary) -> dict[str, Any]:
    score = summary.score
    return {
        "step": summary.step,
        "median": None if score is None else round(score, 1),
        "band": None if score is None else band(score).words,
        "face_share": round(summary.face_share, 2),
        "faces": summary.faces_sentence(),
        "judged": summary.judged,
        "copying": summary.copying,
        "copies": flag_words(summary) if summary.copying else None,
        "collapsed": summary.collapsed,
    }


def load_summaries(db, job_id: str) -> list[CheckpointSummary]:
    """Every scored step of a job, in step order (for the curve, the report and the recommendation)."""
    rows = db.query("SELECT * FROM probe_scores WHERE job_id=? ORDER BY step, idx", (job_id,))
    by_step: dict[int, list] = {}
    for row in rows:
        by_step.setdefault(row["step"], []).append(row)
    out = []
    for step, group in sorted(by_step.items()):
        probes = [
            ProbeScore(r["prompt"], bool(r["found"]), r["likeness"], r["yaw"], r["pitch"], r["copies_photo"])
            for r in group
        ]
        out.append(summarise(step, probes, bool(group[0]["collapsed"])))
    return out


def report(db, job_id: str) -> dict[str, Any]:
    """The likeness report of a training: per step its summary and every probe (exportable as JSON)."""
    return {
        "job_id": job_id,
        "scale": scale_sentence(),
        "steps": [
            {**_event(s), "probes": [asdict(p) | {"band": _words(p)} for p in s.probes]}
            for s in load_summaries(db, job_id)
        ],
    }


def _words(probe: ProbeScore) -> str:
    return band(probe.likeness).words if probe.found and probe.likeness is not None else "no face found"
