"""What the database says about jobs, kept true whatever happens (the job runner's record keeping).

An ending is written in one transaction with its status event; when the database refuses it (full disk,
read-only folder, locked), the ending is kept in memory and in the reserved space of isengard/jobs/endings.py
and written when it can. A job whose owner died reads as interrupted to every reader — or as the ending its
owner kept, if it kept one — and a certain death is recorded so that every reader agrees.
"""

from __future__ import annotations

import time

from isengard.jobs.endings import Ending
from isengard.jobs.liveness import DEAD_OWNER_REASON, heartbeat_stale, owner_state
from isengard.jobs.records import ACTIVE, JobRecord, record_from_row
from isengard.obs import event, use_correlation
from isengard.storage.db import dumps

FINISH_RETRIES = 5


class JobBook:
    """Mixed into JobRunner: needs `db`, `_owner`, `_slots`, `_state_lock`, `_unsaved`, `_live`,
    `_contexts` and `_notify`."""

    def recover(self) -> list[str]:
        """Jobs whose owner on this host is gone are marked interrupted in the database."""
        ids = []
        for row in self.db.query(
            "SELECT id, owner, heartbeat_at, updated_at FROM jobs WHERE status IN ('queued','running')"
        ):
            if row["owner"] == self._owner or not self._owner_gone(
                row["owner"], row["heartbeat_at"], row["updated_at"]
            ):
                continue
            if self._mark_dead(row["id"], row["owner"]):
                ids.append(row["id"])
        if ids:
            with use_correlation(None, service="worker"):
                event("job.recovered", f"{len(ids)} job(s) marked interrupted", jobs=ids)
        return ids

    def _mark_dead(self, job_id: str, owner: str | None) -> bool:
        """Record how a dead owner's job ended (only if nobody took it over meanwhile): the ending it kept
        in its reserved space when the database refused it, else interrupted."""
        now = time.time()
        kept = self._slots.read(job_id)
        status, error = (kept.status, kept.error) if kept else ("interrupted", DEAD_OWNER_REASON)
        try:
            with self.db.transaction() as conn:
                cursor = conn.execute(
                    "UPDATE jobs SET status=?, result=coalesce(?, result), error=?, finished_at=?, updated_at=?"
                    " WHERE id=? AND status IN ('queued','running') AND owner IS ?",
                    (
                        status,
                        dumps(kept.result) if kept and kept.result is not None else None,
                        error,
                        kept.at if kept else now,
                        now,
                        job_id,
                        owner,
                    ),
                )
                if cursor.rowcount:
                    self._insert_status(conn, job_id, status, error, now)
            if cursor.rowcount:
                self._slots.release(job_id)  # recorded: the reserved space goes back either way
                if kept:
                    event("job.ending_recovered", f"{job_id} {status}: {error}", job_id=job_id, status=status)
            return bool(cursor.rowcount)
        except Exception as exc:  # a reader that cannot write still shows the truth (see _view)
            event("job.recover_failed", f"could not mark {job_id} interrupted: {exc}", level="WARNING")
            return False

    def _view(self, job: JobRecord) -> JobRecord:
        """The truth about a job: an ending not yet written here, or a dead owner's job as interrupted."""
        with self._state_lock:
            ending = self._unsaved.get(job.id)
        if ending is not None and job.status in ACTIVE:
            job.stored_status, job.status, job.error = job.status, ending.status, ending.error
            job.result, job.finished_at = ending.result or job.result, ending.at
            return job
        if job.status not in ACTIVE or job.owner == self._owner:
            return job
        if self._owner_gone(job.owner, job.heartbeat_at, job.updated_at):
            # a certain death is recorded, so every reader agrees; a silent other host is only shown
            recorded = owner_state(job.owner) == "dead" and self._mark_dead(job.id, job.owner)
            row = self.db.one("SELECT * FROM jobs WHERE id=?", (job.id,)) if recorded else None
            if row is not None:
                return record_from_row(row)
            kept = self._slots.read(job.id)  # the ending it kept when the database refused it
            job.stored_status = job.status
            job.status, job.error = (kept.status, kept.error) if kept else ("interrupted", DEAD_OWNER_REASON)
        return job

    @staticmethod
    def _owner_gone(owner: str | None, heartbeat_at: float | None, updated_at: float | None) -> bool:
        state = owner_state(owner)
        return state == "dead" or (state == "unknown" and heartbeat_stale(heartbeat_at, updated_at))

    def _heartbeat(self) -> None:
        with self._state_lock:
            ids = [job_id for job_id in self._live if job_id not in self._unsaved]
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        try:
            self.db.execute(f"UPDATE jobs SET heartbeat_at=? WHERE id IN ({marks})", (time.time(), *ids))
        except Exception as exc:
            event("job.heartbeat_failed", f"heartbeat not written: {exc}", level="WARNING")

    def _write_unsaved(self) -> None:
        with self._state_lock:
            pending = dict(self._unsaved)
        for job_id, ending in pending.items():
            if self._write_finish(job_id, ending):
                with self._state_lock:
                    self._unsaved.pop(job_id, None)
                event("job.ending_saved", f"the ending of {job_id} is saved now", job_id=job_id)

    def _finish(
        self, job_id: str, status: str, *, result: dict | None = None, error: str | None = None
    ) -> None:
        """End a job. If the database refuses (full disk, read-only, locked), keep the ending and retry."""
        ending = Ending(status, error, result, time.time())
        with self._state_lock:
            self._live.discard(job_id)
        for attempt in range(FINISH_RETRIES):
            if self._write_finish(job_id, ending):
                with self._state_lock:
                    self._unsaved.pop(job_id, None)
                self._notify()
                return
            time.sleep(0.05 * (2**attempt))
        with self._state_lock:
            self._unsaved[job_id] = ending
        kept = self._slots.record(job_id, ending)  # outlives this process if the disk stays full
        event(
            "job.ending_unsaved",
            f"{job_id} ended as {status} but the database cannot record it yet; retrying in the background",
            level="ERROR",
            job_id=job_id,
            status=status,
            error=error,
            kept_in_reserved_space=kept,
        )
        self._notify()

    def _write_finish(self, job_id: str, ending: Ending) -> bool:
        try:
            with self.db.transaction() as conn:
                self._insert_status(conn, job_id, ending.status, ending.error, ending.at)
                conn.execute(
                    "UPDATE jobs SET status=?, result=coalesce(?, result), error=?, finished_at=?, updated_at=?"
                    " WHERE id=?",
                    (
                        ending.status,
                        dumps(ending.result) if ending.result is not None else None,
                        ending.error,
                        ending.at,
                        time.time(),
                        job_id,
                    ),
                )
        except Exception as exc:
            event("job.finish_write_failed", f"could not record the end of {job_id}: {exc}", level="WARNING")
            return False
        self._slots.release(job_id)
        ctx = self._contexts.get(job_id)
        if ctx is not None:
            ctx._seq += 1
        return True

    @staticmethod
    def _insert_status(conn, job_id: str, status: str, error: str | None, at: float) -> None:
        row = conn.execute("SELECT max(seq) FROM job_events WHERE job_id=?", (job_id,)).fetchone()
        conn.execute(
            "INSERT INTO job_events(job_id, seq, ts, type, data) VALUES (?,?,?,?,?)",
            (job_id, (row[0] or 0) + 1, at, "status", dumps({"status": status, "error": error})),
        )
