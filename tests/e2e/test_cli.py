"""The command line, run as a user runs it: a separate process, exit codes, JSON on stdout."""

from __future__ import annotations

import json
import sqlite3

from isengard.obs.validate import validate_dir
from tests.helpers import child_env, read_log_lines, run_cli


def test_doctor_json_reports_mode_device_paths_plugins(tmp_path):
    result = run_cli(["doctor", "--json"], child_env(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "fast-test" and data["mode_reason"] == "ISENGARD_MODE is set"
    assert data["device"]["kind"] == "cpu"
    assert data["paths"]["data"] == str(tmp_path / "data")
    assert {(p["kind"], p["name"]) for p in data["plugins"]} >= {("training", "mock"), ("image", "mock")}
    assert {c["key"] for c in data["capabilities"]} >= {"training.lora", "training.dora", "video.generation"}
    assert data["database"]["schema_version"] >= 1


def test_doctor_text(tmp_path):
    result = run_cli(["doctor"], child_env(tmp_path))
    assert result.returncode == 0
    assert "Mode:     fast-test" in result.stdout and "DoRA training" in result.stdout


def test_generate_then_jobs_list_show_follow(tmp_path):
    env = child_env(tmp_path)
    result = run_cli(["generate", "--prompt", "a red kite", "--count", "2", "--seed", "5", "--json"], env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [i["seed"] for i in data["images"]] == [5, 6]
    for image in data["images"]:
        assert (tmp_path / "data" / "outputs").as_posix() in image["path"]
    jobs = json.loads(run_cli(["jobs", "list", "--json"], env).stdout)["jobs"]
    assert jobs[0]["id"] == data["job_id"] and jobs[0]["status"] == "succeeded"
    shown = json.loads(run_cli(["jobs", "show", data["job_id"], "--json"], env).stdout)
    assert shown["job"]["status"] == "succeeded" and shown["events"]
    followed = run_cli(["jobs", "follow", data["job_id"]], env)
    assert followed.returncode == 0 and "[succeeded]" in followed.stderr
    # the CLI command's correlation id reaches the worker
    cid = jobs[0]["correlation_id"]
    assert any(line["correlation_id"] == cid for line in read_log_lines(tmp_path / "logs", "worker"))
    assert validate_dir(tmp_path / "logs").ok


def test_generate_prints_paths_and_seed_in_text_mode(tmp_path):
    result = run_cli(["generate", "--prompt", "a boat", "--seed", "9"], child_env(tmp_path))
    assert result.returncode == 0
    assert result.stdout.strip().endswith("_0.png") and "seed(s): 9" in result.stderr


def test_bad_generation_input_gets_one_sentence_and_code_5(tmp_path):
    env = child_env(tmp_path)
    cases = {
        ("--prompt", "   "): "Write a prompt first",
        ("--prompt", "x", "--steps", "0"): "Steps must be a whole number between 1 and 150",
        ("--prompt", "x", "--steps", "5000"): "between 1 and 150",
        ("--prompt", "x", "--base", "nope"): "There is no base model 'nope'",
        ("--prompt", "x", "--width", "10"): "between 64 and 2048",
        ("--prompt", "x", "--lora", str(tmp_path / "missing.safetensors")): "does not exist",
    }
    for args, message in cases.items():
        result = run_cli(["generate", *args], env)
        assert result.returncode == 5, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr


def test_unknown_job_is_a_clear_error(tmp_path):
    result = run_cli(["jobs", "show", "nope"], child_env(tmp_path))
    assert result.returncode == 5 and "There is no job nope" in result.stderr


def test_unknown_mode_exits_2_without_traceback(tmp_path):
    result = run_cli(["doctor"], child_env(tmp_path, ISENGARD_MODE="turbo"))
    assert result.returncode == 2
    assert "ISENGARD_MODE='turbo'" in result.stderr and "Traceback" not in result.stderr


def test_unwritable_data_dir_exits_3(tmp_path):
    result = run_cli(["doctor"], child_env(tmp_path, DATA_DIR="/proc/isengard-data"))
    assert result.returncode == 3
    assert "Cannot create /proc/isengard-data" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_database_exits_3(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "isengard.db").write_bytes(b"garbage" * 1000)
    result = run_cli(["doctor"], child_env(tmp_path))
    assert result.returncode == 3
    assert "damaged" in result.stderr and "Traceback" not in result.stderr


def test_newer_schema_database_exits_3(tmp_path):
    (tmp_path / "data").mkdir()
    conn = sqlite3.connect(tmp_path / "data" / "isengard.db")
    conn.execute("PRAGMA user_version=999")
    conn.close()
    result = run_cli(["doctor"], child_env(tmp_path))
    assert result.returncode == 3 and "newer Isengard" in result.stderr


def test_token_in_environment_never_reaches_the_logs(tmp_path):
    token = "hf_SECRETtoken1234567890"
    env = child_env(tmp_path, HF_TOKEN=token)
    result = run_cli(["generate", "--prompt", f"leak test token={token}"], env)
    assert result.returncode == 0
    logs = "".join(p.read_text() for p in (tmp_path / "logs").rglob("*.log"))
    assert token not in logs and "SECRETtoken" not in logs
    assert validate_dir(tmp_path / "logs").ok


def test_no_command_prints_help(tmp_path):
    result = run_cli([], child_env(tmp_path))
    assert result.returncode == 2 and "serve" in result.stdout
