"""`python -m isengard train …` in both modes, bad input, and a crashed training resumed from the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from isengard.settings import PROJECT_ROOT
from plugins.lora_format import read_lora_info
from tests import photos
from tests.helpers import child_env, install_tiny, run_cli, solid_photos


def _make_character(env, tmp_path, name="Cli Trainee") -> None:
    files = [str(p) for p in photos.good_set(tmp_path / "in")]
    assert run_cli(["character", "create", name, "--photos", *files, "--no-check"], env).returncode == 0


def test_fast_test_training_prints_a_valid_lora(tmp_path):
    env = child_env(tmp_path)
    _make_character(env, tmp_path)
    result = run_cli(["train", "Cli Trainee", "--base", "flux-dev", "--steps", "40"], env)
    assert result.returncode == 0, result.stderr
    path = result.stdout.strip()
    assert path.endswith(".safetensors") and "models/loras/cli-trainee-" in path
    info = read_lora_info(path)
    assert info.family == "flux" and info.metadata["isengard_mock"] == "true"
    assert "[succeeded]" in result.stderr and "40/40" in result.stderr
    # the likeness verdict (placeholder samples have no face in fast-test mode)
    assert "likeness: No face was found in any probe picture" in result.stderr


def test_train_takes_the_sample_and_checkpoint_intervals_and_the_conv_switch(tmp_path):
    env = child_env(tmp_path)
    _make_character(env, tmp_path)
    args = ["train", "Cli Trainee", "--base", "sdxl-base", "--steps", "12", "--json"]
    result = run_cli([*args, "--save-every", "4", "--sample-every", "0", "--conv"], env)
    assert result.returncode == 0, result.stderr
    job = json.loads(run_cli(["jobs", "show", json.loads(result.stdout)["job_id"], "--json"], env).stdout)[
        "job"
    ]
    params = job["params"]["params"]
    assert (params["save_every"], params["sample_every"], params["train_conv"]) == (4, 0, True)
    assert len(json.loads(result.stdout)["checkpoints"]) == 2  # steps 4 and 8; 12 is the final LoRA
    off = run_cli([*args, "--no-conv"], env)
    job = json.loads(run_cli(["jobs", "show", json.loads(off.stdout)["job_id"], "--json"], env).stdout)["job"]
    assert job["params"]["params"]["train_conv"] is False
    bad = run_cli([*args, "--save-every", "-3"], env)
    assert bad.returncode == 5 and "Checkpoint every must be a whole number between 1" in bad.stderr
    assert "--sample-every" in run_cli(["train", "--help"], env).stdout


@pytest.mark.slow
def test_production_training_on_a_tiny_model(tmp_path, tiny_models):
    env = child_env(tmp_path, ISENGARD_MODE="production")
    install_tiny(tmp_path / "data", "sd15", tiny_models)
    _make_character(env, tmp_path)
    result = run_cli(
        ["train", "Cli Trainee", "--base", "tiny-sd15", "--steps", "20", "--rank", "2", "--json"],
        env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    info = read_lora_info(data["lora_path"])
    assert info.family == "sd15" and info.key_format == "kohya" and info.rank == 2
    assert data["steps"] == 20 and data["samples"]


@pytest.mark.slow
def test_cli_trains_and_generates_on_z_image_turbo(tmp_path, tiny_models):
    """A licence-clean newer family from the command line: train (with Turbo's training adapter), then
    generate with the LoRA at Turbo's own defaults."""
    env = child_env(tmp_path, ISENGARD_MODE="production")
    install_tiny(tmp_path / "data", "zimage", tiny_models)
    _make_character(env, tmp_path, "Zed Cli")
    trained = run_cli(
        ["train", "Zed Cli", "--base", "tiny-zimage-turbo", "--steps", "10", "--sample-every", "0", "--json"],
        env,
        timeout=300,
    )
    assert trained.returncode == 0, trained.stderr
    lora = json.loads(trained.stdout)["lora_path"]
    assert read_lora_info(lora).family == "zimage"
    made = run_cli(
        ["generate", "--base", "tiny-zimage-turbo", "--prompt", "a portrait", "--lora", lora, "--json"],
        env,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    out = json.loads(made.stdout)
    assert out["images"]
    listing = run_cli(["models", "list"], env).stdout
    assert "zimage-turbo" in listing and "commercial: yes" in listing and "commercial: no" in listing


def test_bad_training_requests_get_one_sentence(tmp_path):
    env = child_env(tmp_path)
    assert run_cli(["character", "create", "No Photos"], env).returncode == 0
    _make_character(env, tmp_path)
    cases = [
        (["train", "Nobody", "--base", "flux-dev"], 5, "There is no character 'Nobody'"),
        (["train", "No Photos", "--base", "flux-dev"], 5, "has no photos yet"),
        (["train", "Cli Trainee", "--base", "flux-dev", "--preset", "nope"], 5, "There is no preset 'nope'"),
        (
            ["train", "Cli Trainee", "--base", "flux-dev", "--steps", "0"],
            5,
            "Training steps must be a whole number between",
        ),
        (["train", "Cli Trainee", "--base", "nothing"], 5, "There is no base model 'nothing'"),
        (["train", "Cli Trainee", "--base", "flux-dev", "--backend", "dora"], 5, "no training backend"),
    ]
    for args, code, message in cases:
        result = run_cli(args, env)
        assert result.returncode == code and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    prod = child_env(tmp_path, ISENGARD_MODE="production")
    gated = run_cli(["train", "Cli Trainee", "--base", "flux-dev"], prod)
    assert gated.returncode == 7 and "gated" in gated.stderr


@pytest.mark.slow
def test_training_killed_mid_run_resumes_from_its_checkpoint(tmp_path, tiny_models):
    env = child_env(tmp_path, ISENGARD_MODE="production")
    install_tiny(tmp_path / "data", "flux", tiny_models)
    created = run_cli(
        [
            "character",
            "create",
            "Crashy",
            "--no-check",
            "--photos",
            *map(str, solid_photos(tmp_path / "red")),
        ],
        env,
    )
    assert created.returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "isengard", "train", "Crashy", "--base", "tiny-flux", "--steps", "600"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    run_dir = tmp_path / "data" / "training"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(run_dir.glob("*/state/*.pt")):
        time.sleep(0.2)
    assert list(run_dir.glob("*/state/*.pt")), (
        proc.stderr.read() if proc.poll() is not None else "no checkpoint"
    )
    os.killpg(proc.pid, signal.SIGKILL)  # a crash: nothing gets a chance to clean up
    proc.wait()
    listed = json.loads(run_cli(["jobs", "list", "--json"], env).stdout)["jobs"]
    job = next(j for j in listed if j["kind"] == "train")
    # the next process to start notices the dead owner and marks the job interrupted
    resumed = run_cli(["jobs", "resume", job["id"], "--json"], env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)["job"]
    assert final["status"] == "succeeded" and final["result"]["steps"] == 600
    steps = [
        e["data"]["step"]
        for e in json.loads(run_cli(["jobs", "show", job["id"], "--json"], env).stdout)["events"]
        if e["type"] == "progress" and "step" in e["data"]
    ]
    assert steps[-1] == 600
