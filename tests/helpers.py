"""Small helpers shared by tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from isengard.settings import PROJECT_ROOT, Settings


def make_settings(tmp_path: Path, **overrides) -> Settings:
    env = {
        "ISENGARD_MODE": overrides.pop("mode", "fast-test"),
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_DIR": str(tmp_path / "logs"),
        "TMP_DIR": str(tmp_path / "tmp"),
    }
    env.update({k: str(v) for k, v in overrides.pop("env", {}).items()})
    settings = Settings.from_env(env, volume_roots=())
    return settings.with_overrides(**overrides) if overrides else settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ISENGARD_MODE": "fast-test",
            "DATA_DIR": str(tmp_path / "data"),
            "LOG_DIR": str(tmp_path / "logs"),
            "TMP_DIR": str(tmp_path / "tmp"),
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def cli_person(root: Path, name: str, photos_folder: Path, *extra: str) -> None:
    """A person with the test photos, made through the command line in the studio whose folder is `root`."""
    from tests import photos

    made = run_cli(
        ["character", "create", name, "--photos", *map(str, photos.good_set(photos_folder)), *extra],
        child_env(root),
    )
    assert made.returncode == 0, made.stderr


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "isengard", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def read_log_lines(log_dir: Path, service: str) -> list[dict]:
    name = "client.log" if service == "web" else f"{service}.log"
    path = log_dir / service / "latest" / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


def install_tiny(data_dir: Path, family: str, tiny_models: Path) -> Path:
    """Put the session's tiny base of `family` where a data folder expects it (built once per session)."""
    import shutil

    from isengard.tiny.models import build_tiny_base

    built = build_tiny_base(family, tiny_models / f"tiny-{family}")
    target = Path(data_dir) / "models" / "base" / f"tiny-{family}"
    if not target.exists():
        shutil.copytree(built, target)
    return target


def solid_photos(folder: Path, colour=(220, 20, 20), count: int = 4, size: int = 256) -> list[Path]:
    """Plain colour squares: what the learning tests train on."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"solid{i}.png"
        shade = tuple(min(255, c + i) for c in colour)  # distinct files: identical ones would be duplicates
        Image.new("RGB", (size, size), shade).save(path)
        paths.append(path)
    return paths
