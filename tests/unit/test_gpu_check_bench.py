"""bench/gpu_check.py at tiny scale on the CPU, in a Python that refuses to import what the lent GPU machine
lacks (the studio's web, queue and face packages, bitsandbytes): every family and preset goes through the
trainer's own recipes, the report says which presets could not be measured there and why, and the wheels
it asks to carry are the pinned diffusers and peft — so the one GPU command cannot rot between the rare
lent GPUs."""

from __future__ import annotations

import json
import subprocess
import sys

from isengard.settings import PROJECT_ROOT
from isengard.training.presets import load_presets

# what the studio needs and the GPU machine has not (KINDS.md's package list); diffusers and peft are carried
NOT_THERE = ["gradio", "loguru", "websocket", "dlib", "face_recognition_models", "prodigyopt", "bitsandbytes",
             "rq", "redis", "fastapi", "starlette", "uvicorn"]  # fmt: skip
BLOCKER = """
import sys, runpy
sys.path.insert(0, "bench")
for name in {blocked!r}:
    sys.modules[name] = None  # Python's own "not importable": import raises, find_spec answers None
sys.argv = ["bench/gpu_check.py", *{args!r}]
runpy.run_path("bench/gpu_check.py", run_name="__main__")
"""


def run_check(*args: str) -> subprocess.CompletedProcess:
    code = BLOCKER.format(blocked=set(NOT_THERE), args=list(args))
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600
    )


def test_the_gpu_check_runs_at_tiny_scale_with_only_what_the_gpu_machine_has(tmp_path):
    done = run_check("--scale", "tiny", "--steps", "1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check_tiny.json").read_text())
    assert report["versions"]["bitsandbytes"] == "not installed"
    families = report["families"]
    assert set(families) == {"sd15", "sdxl", "flux", "zimage", "flux2_klein", "qwen_image", "flux2"}
    expected = {p.id for p in load_presets() if not p.tiny_only}
    assert {row["preset"] for f in families.values() for row in f["presets"]} == expected
    for family, entry in families.items():
        assert entry["build_s"] >= 0 and entry["generation_1024"]["s_per_picture"] > 0, family
        for row in entry["presets"]:
            preset = next(p for p in load_presets() if p.id == row["preset"])
            if preset.params.get("quantize_base"):
                assert row["status"].startswith("not measured here: the 4-bit base needs bitsandbytes"), row
                continue
            assert row["status"] == "measured" and row["s_per_step"] > 0 and row["predicted_gb"] > 0, row
            if preset.params.get("optimizer") == "adamw8bit":
                assert "AdamW in place of 8-bit AdamW" in row["note"]
    assert report["cold_start"]["to_first_step_s"] >= report["cold_start"]["load_s"] >= 0
    assert "took" in done.stdout and "flux2-klein-12gb" in done.stdout  # the one screen


def test_a_spent_time_budget_is_reported_not_overrun(tmp_path):
    done = run_check("--scale", "tiny", "--budget-s", "0", "--out", str(tmp_path), "--family", "sd15")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_check_tiny.json").read_text())
    assert report["families"]["sd15"]["status"] == "not measured here: out of the time budget"


def test_the_wheels_to_carry_are_the_pinned_diffusers_and_peft():
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(PROJECT_ROOT / "bench"))
    pins = {line.split("==")[0]: line.split("==")[1] for line in
            (PROJECT_ROOT / "requirements.txt").read_text().splitlines() if "==" in line}  # fmt: skip
    command = gpu_check.wheel_command(PROJECT_ROOT / "wheels")
    assert f"diffusers=={pins['diffusers']}" in command and f"peft=={pins['peft']}" in command
    assert command[command.index("--python-version") + 1] == "3.12" and "--no-deps" in command
