"""Shared helpers for benchmarks: interleaved runs, medians, a JSON report under reports/."""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def interleaved(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Run each callable `repeats` times, alternating between them, so machine drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return times


def summary(times: dict[str, list[float]], baseline: str) -> dict[str, dict[str, float]]:
    base = statistics.median(times[baseline])
    return {
        name: {
            "median_s": round(statistics.median(values), 4),
            "min_s": round(min(values), 4),
            "runs": len(values),
            "ratio_to_baseline": round(statistics.median(values) / base, 3),
        }
        for name, values in times.items()
    }


def write_report(name: str, data: dict, folder: Path | None = None, *, quiet: bool = False) -> Path:
    out = (folder or ROOT / "reports") / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    data = {"benchmark": name, "machine": platform.platform(), "python": platform.python_version(), **data}
    out.write_text(json.dumps(data, indent=2) + "\n")
    if not quiet:
        print(json.dumps(data, indent=2))
    return out


def red_photos(folder: Path, count: int = 4) -> list[Path]:
    """Plain red 64 px photos (each a shade apart, so none is a duplicate): what the benches train on."""
    from PIL import Image

    photos = []
    for i in range(count):
        path = folder / f"red{i}.png"
        Image.new("RGB", (64, 64), (220, 20 + i, 20)).save(path)
        photos.append(path)
    return photos
