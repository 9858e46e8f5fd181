"""Before a job that needs a model's weights: can they be had here? A training or a download that cannot
get its model — no internet, no token for a gated model, no room on the data disk — is explained before
it starts, never started to fail a minute later ("Could not reach huggingface.co").

The hub's reachability is one short connection attempt (cached for a minute, so the model list stays
quick); `HF_HUB_OFFLINE=1` means offline without trying.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

MARGIN = 1.1  # a download needs its size and a little more (temporary files)
REACH_TIMEOUT = 2.0
REACH_TTL = 60.0
_reach: dict[str, tuple[float, bool]] = {}


def hub_reachable() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = (
        endpoint.hostname or "huggingface.co",
        endpoint.port or (80 if endpoint.scheme == "http" else 443),
    )
    cached = _reach.get(host)
    if cached and time.monotonic() - cached[0] < REACH_TTL:
        return cached[1]
    try:
        with socket.create_connection((host, port), timeout=REACH_TIMEOUT):
            ok = True
    except OSError:
        ok = False
    _reach[host] = (time.monotonic(), ok)
    return ok


def free_bytes(folder: Path) -> int:
    """Free space on the disk that holds `folder` (or the nearest folder above it that exists)."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def gb(value: float) -> str:
    return f"{value:.0f} GB" if value >= 10 else f"{value:.1f} GB"


def problem(manager, model) -> tuple[str, str] | None:
    """Why `model`'s weights cannot be had here right now: (what — "token", "space" or "offline" — and the
    sentence); None when they can."""
    if model.tiny or model.custom or manager.is_ready(model):
        return None
    if model.gated and not manager.tokens.get():
        return "token", f"{model.label} is gated: it needs a Hugging Face token (paste one in Settings)."
    free = free_bytes(manager.paths.base_models) / 1e9
    if model.download_gb and free < model.download_gb * MARGIN:
        return "space", (
            f"{model.label} needs a {gb(model.download_gb)} download and the data disk has {gb(free)} free: "
            "free some space, or pick a smaller model."
        )
    if not hub_reachable():
        return "offline", (
            f"{model.label} has to be downloaded first, and this computer cannot reach the Hugging Face hub "
            "(no internet connection): connect it, or pick a model that is already here."
        )
    return None


def blocker(manager, model) -> str | None:
    """The sentence of `problem`, or None."""
    found = problem(manager, model)
    return found[1] if found else None


def short_status(manager, model) -> str:
    """The model list's few words: what the first use costs, or why it cannot happen here."""
    found = problem(manager, model)
    what = found[0] if found else None
    free = gb(free_bytes(manager.paths.base_models) / 1e9)
    if what == "token":
        return "needs a Hugging Face token (Settings)"
    if what == "space":
        return f"needs a {gb(model.download_gb)} download — {free} free"
    if what == "offline":
        return "not downloaded, and this computer is offline"
    size = f"{gb(model.download_gb)}; " if model.download_gb else ""
    return f"downloads on first use ({size}{free} free)"
