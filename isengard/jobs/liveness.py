"""Is a job's owner still alive? Every reader asks, so a dead process never leaves a job "running".

The owner tag is `host:pid:process-start-time`. On the same host a dead pid (or a pid reused by another
process, told apart by its start time) is certain; on another host (a shared volume) only the heartbeat,
written every few seconds by the owner, can tell.
"""

from __future__ import annotations

import os
import socket
import time

HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 45.0
DEAD_OWNER_REASON = (
    "The Isengard process running this job stopped (it was closed, crashed or was killed). "
    "Resume it to continue from its last checkpoint."
)


def owner_tag() -> str:
    import psutil

    return f"{socket.gethostname()}:{os.getpid()}:{psutil.Process().create_time():.3f}"


def owner_state(owner: str | None) -> str:
    """'alive', 'dead' (certain: same host, process gone) or 'unknown' (another host)."""
    import psutil

    if not owner:
        return "dead"
    try:
        host, pid, created = owner.rsplit(":", 2)
    except ValueError:
        return "dead"
    if host != socket.gethostname():
        return "unknown"
    try:
        if not psutil.pid_exists(int(pid)):
            return "dead"
        same = abs(psutil.Process(int(pid)).create_time() - float(created)) < 0.01
        return "alive" if same else "dead"
    except (ValueError, psutil.Error):
        return "dead"


def owner_alive(owner: str | None) -> bool:
    return owner_state(owner) == "alive"


def heartbeat_stale(heartbeat_at: float | None, updated_at: float | None, now: float | None = None) -> bool:
    last = heartbeat_at or updated_at
    if last is None:
        return True
    return (now or time.time()) - last > STALE_AFTER_SECONDS
