"""What the studio and its GPU workers say to each other through Redis, and how they trust it.

The queue itself is RQ's (`rq.Queue`, one per Isengard version, so a worker of another version never
takes a job it would run wrongly). Around it, a few plain Redis keys:

* ``isengard:lease:<job>`` — the worker that runs the job now; set with NX and renewed every two seconds
  (gone ten seconds after its worker died). One job never runs twice at once: a second worker waits for
  the lease, and a worker that loses it stops at its next step.
* ``isengard:events:<job>`` — a stream of progress and log lines, read by the studio into its database.
* ``isengard:cancel:<job>`` — Stop, from any window; ``isengard:watch:<job>`` — the studio still follows
  the job (a worker whose studio went away stops instead of training for nobody).
* ``isengard:result:<run>`` — how the run ended. ``isengard:worker:<name>`` — each worker's heartbeat.

Job and result bodies are pickled dataclasses (requests and results of the plugin interfaces), signed with
HMAC-SHA256 under the worker token, and loaded only after the signature checks out: whoever can write to
Redis still cannot make a worker or the studio load a forged body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle
import secrets
from pathlib import Path
from typing import Any

from isengard import __version__
from isengard.errors import IsengardError
from isengard.storage.files import atomic_write_text

WIRE = 1  # bumped when what travels changes shape
VERSION = f"{__version__}+wire{WIRE}"
QUEUE = "isengard-gpu-" + VERSION.replace("+", "-")
LEASE_SECONDS = 10
LEASE_RENEW_SECONDS = 2
WATCH_SECONDS = 30
WORKER_TTL = 15
KEEP_SECONDS = 24 * 3600
ENDED_MARK = "ended"  # the last entry of a run's event stream: its ending is in result_key
AUTH_KEY = "isengard:auth"
STUDIO_KEY = "isengard:studio"


def lease_key(job_id: str) -> str:
    return f"isengard:lease:{job_id}"


def events_key(job_id: str) -> str:
    return f"isengard:events:{job_id}"


def cancel_key(job_id: str) -> str:
    return f"isengard:cancel:{job_id}"


def watch_key(job_id: str) -> str:
    return f"isengard:watch:{job_id}"


def result_key(run_id: str) -> str:
    return f"isengard:result:{run_id}"


def worker_key(name: str) -> str:
    return f"isengard:worker:{name}"


class WireError(IsengardError):
    """A message that does not check out (wrong token, another version)."""


def token_file(data_dir: Path) -> Path:
    return Path(data_dir) / "secrets" / "worker-token"


def load_token(env_token: str | None, data_dir: Path, *, create: bool) -> str | None:
    """The worker token: ISENGARD_WORKER_TOKEN, else the one the studio keeps in its data folder (made on
    first use, readable by its owner only; a worker that shares the folder finds it there)."""
    if env_token:
        return env_token
    path = token_file(data_dir)
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        if not create:
            return None
    token = secrets.token_hex(24)
    atomic_write_text(path, token, permissions=0o600)
    return token


def token_proof(token: str) -> str:
    """What the studio publishes so a worker can check its token before it takes any job (not the token)."""
    return hmac.new(token.encode(), b"isengard-worker-token-proof", hashlib.sha256).hexdigest()


def token_hint(token: str) -> str:
    """Enough to tell two tokens apart in a log, nothing to guess one from."""
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def _signature(token: str, fields: list[str]) -> str:
    return hmac.new(token.encode(), "\x1f".join(fields).encode(), hashlib.sha256).hexdigest()


def seal(token: str, head: dict[str, Any], body: Any) -> dict[str, Any]:
    """A message: `head` (plain JSON, readable by anyone) and `body` (pickled), both under one signature."""
    packed = base64.b64encode(pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL)).decode()
    head = dict(head) | {"version": VERSION}
    text = json.dumps(head, sort_keys=True)
    return {"head": text, "body": packed, "sig": _signature(token, [text, packed])}


def open_sealed(token: str, message: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """(head, body) of a message sealed under the same token and version; WireError otherwise."""
    try:
        text, packed, sig = message["head"], message["body"], message["sig"]
    except (KeyError, TypeError):
        raise WireError("A message on the job queue is not one of Isengard's.") from None
    if not hmac.compare_digest(_signature(token, [text, packed]), str(sig)):
        raise WireError("A message on the job queue was not signed with this machine's worker token.")
    head = json.loads(text)
    if head.get("version") != VERSION:
        raise WireError(
            f"A message comes from Isengard {head.get('version')}, and this is {VERSION}: "
            "run the same version on the studio and every worker."
        )
    return head, pickle.loads(base64.b64decode(packed))
