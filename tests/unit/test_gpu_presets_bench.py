"""bench/gpu_presets.py at tiny scale on the CPU: every newer-family preset builds, trains and generates
through the trainer's own recipes, so the GPU check cannot rot between the rare runs on a GPU."""

from __future__ import annotations

import importlib
import json
import sys

from isengard.settings import PROJECT_ROOT
from isengard.training.presets import load_presets


def test_every_newer_family_preset_runs_at_tiny_scale(tmp_path):
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    try:
        bench = importlib.import_module("gpu_presets")
        bench.main(["--scale", "tiny", "--steps", "1", "--out", str(tmp_path)])
    finally:
        sys.path.remove(str(PROJECT_ROOT / "bench"))
    report = json.loads((tmp_path / "gpu_presets_tiny.json").read_text())
    expected = {p.id for p in load_presets() if p.family in bench.FAMILIES}
    assert {row["preset"] for row in report["presets"]} == expected and len(expected) >= 6
    for row in report["presets"]:
        assert row["train_s_per_step"] > 0 and row["generate_s_per_step"] > 0
        assert row["preset_peak_gb"] is not None  # every preset states what it expects
