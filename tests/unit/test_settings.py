from pathlib import Path

import pytest

from isengard.errors import SettingsError
from isengard.settings import Settings, is_loopback_host


def env(tmp_path: Path, **extra) -> dict[str, str]:
    return {"ISENGARD_MODE": "fast-test", **extra}


def test_defaults_resolve_to_project_folders(tmp_path):
    s = Settings.from_env(env(tmp_path), volume_roots=(), project_root=tmp_path)
    assert s.data_dir == tmp_path / "data"
    assert s.log_dir == tmp_path / "logs"
    assert s.tmp_dir == tmp_path / "tmp"
    assert (s.host, s.port, s.worker_concurrency, s.log_level) == ("127.0.0.1", 7860, 1, "INFO")
    assert not s.login_required


def test_explicit_env_wins_over_runpod_volume(tmp_path):
    volume = tmp_path / "runpod-volume"
    volume.mkdir()
    s = Settings.from_env(
        env(tmp_path, DATA_DIR=str(tmp_path / "mine"), LOG_DIR=str(tmp_path / "mylogs")),
        volume_roots=(str(volume),),
        project_root=tmp_path,
    )
    assert s.data_dir == tmp_path / "mine"
    assert s.log_dir == tmp_path / "mylogs"
    assert s.data_dir_reason == "DATA_DIR is set"


def test_runpod_volume_is_used_when_present(tmp_path):
    missing, workspace = tmp_path / "runpod-volume", tmp_path / "workspace"
    workspace.mkdir()
    s = Settings.from_env(env(tmp_path), volume_roots=(str(missing), str(workspace)), project_root=tmp_path)
    assert s.data_dir == workspace / "isengard"
    assert s.log_dir == workspace / "isengard-logs"
    assert "RunPod volume" in s.data_dir_reason


def test_relative_data_dir_is_relative_to_project(tmp_path):
    s = Settings.from_env(env(tmp_path, DATA_DIR="somewhere"), volume_roots=(), project_root=tmp_path)
    assert s.data_dir == tmp_path / "somewhere"


@pytest.mark.parametrize(("cuda", "expected"), [(True, "production"), (False, "fast-test")])
def test_mode_defaults_follow_cuda(tmp_path, cuda, expected):
    s = Settings.from_env({}, cuda_available=lambda: cuda, volume_roots=(), project_root=tmp_path)
    assert s.mode == expected
    assert s.mode_reason.startswith("a CUDA GPU was found") is cuda


def test_unknown_mode_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="ISENGARD_MODE='turbo' is not a mode"):
        Settings.from_env({"ISENGARD_MODE": "turbo"}, volume_roots=(), project_root=tmp_path)


def test_api_port_is_accepted_and_port_wins(tmp_path):
    assert Settings.from_env(env(tmp_path, API_PORT="8000"), volume_roots=()).port == 8000
    assert Settings.from_env(env(tmp_path, API_PORT="8000", PORT="9000"), volume_roots=()).port == 9000


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "http", "not a whole number"),
        ("PORT", "70000", "out of range"),
        ("WORKER_CONCURRENCY", "0", "out of range"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is not valid"),
        ("COMFYUI_URL", "localhost:8188", "not an http"),
        ("ISENGARD_AUTH", "justauser", "user:password"),
        ("ISENGARD_AUTH", "bob:short", "shorter than 8"),
        ("HOST", "not a host!", "not an address"),
        ("ISENGARD_SHARE", "maybe", "not true or false"),
    ],
)
def test_bad_values_are_rejected(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env(tmp_path, **{name: value}), volume_roots=())


def test_auth_and_token_are_parsed_and_never_shown(tmp_path):
    s = Settings.from_env(
        env(tmp_path, ISENGARD_AUTH="alice:correct-horse", HF_TOKEN="hf_abcdefghijklmnop"), volume_roots=()
    )
    assert s.auth == ("alice", "correct-horse")
    assert s.hf_token == "hf_abcdefghijklmnop"
    shown = repr(s) + str(s.public_dict())
    assert "correct-horse" not in shown and "hf_abcdefghijklmnop" not in shown
    assert s.public_dict()["hf_token_set"] is True


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("192.168.1.5", False)],
)
def test_login_required_beyond_loopback(tmp_path, host, loopback):
    s = Settings.from_env(env(tmp_path, HOST=host), volume_roots=())
    assert is_loopback_host(host) is loopback
    assert s.login_required is (not loopback)


def test_share_requires_login(tmp_path):
    assert Settings.from_env(env(tmp_path, ISENGARD_SHARE="1"), volume_roots=()).login_required
