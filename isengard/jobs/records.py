"""What a job is, as every reader sees it: its record, its events, and how long it has left."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from isengard.jobs.reading import read
from isengard.storage.db import loads

TERMINAL = ("succeeded", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")


@dataclass
class JobRecord:
    id: str
    kind: str
    title: str
    status: str
    correlation_id: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    progress: dict[str, Any]
    cancel_requested: bool
    attempts: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    owner: str | None = None
    heartbeat_at: float | None = None
    stored_status: str | None = None  # what the database says, when a reader knows better (a dead owner)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def fraction(self) -> float | None:
        step, total = self.progress.get("step"), self.progress.get("total")
        if isinstance(step, int | float) and isinstance(total, int | float) and total > 0:
            return max(0.0, min(1.0, step / total))
        return 1.0 if self.status == "succeeded" else None

    def summary(self) -> str:
        """One line a person understands: what, how far, what happened."""
        now = read(self)  # the same reading every view shows
        parts = [f"{self.title} — {self.status}"]
        if now.where:
            parts.append(f"on {now.where}")
        if now.steps_text:
            parts.append(now.steps_text)
        if now.time_left:
            parts.append(now.time_left)
        if self.error and self.status in ("failed", "interrupted", "cancelled"):
            parts.append(self.error)
        elif self.progress.get("message") and not self.terminal:
            parts.append(str(self.progress["message"]))
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "status": self.status,
            "correlation_id": self.correlation_id,
            "params": self.params,
            "result": self.result,
            "error": self.error,
            "progress": self.progress,
            "cancel_requested": self.cancel_requested,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass
class JobEvent:
    job_id: str
    seq: int
    ts: float
    type: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "type": self.type, "data": self.data}


def record_from_row(row) -> JobRecord:
    keys = row.keys()
    return JobRecord(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        status=row["status"],
        correlation_id=row["correlation_id"],
        params=loads(row["params"], {}),
        result=loads(row["result"]),
        error=row["error"],
        progress=loads(row["progress"], {}),
        cancel_requested=bool(row["cancel_requested"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        owner=row["owner"],
        heartbeat_at=row["heartbeat_at"] if "heartbeat_at" in keys else None,
    )
