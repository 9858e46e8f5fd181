import hashlib
import stat
from pathlib import Path

import pytest

from isengard.errors import InputError, StorageError
from isengard.paths import Paths, safe_component
from isengard.storage.files import atomic_save, atomic_write_bytes, atomic_write_json, file_sha256


def test_layout_is_created(tmp_path):
    paths = Paths(tmp_path / "data", tmp_path / "logs", tmp_path / "tmp")
    paths.ensure()
    for folder in (paths.uploads, paths.loras, paths.base_models, paths.outputs, paths.logs, paths.tmp):
        assert folder.is_dir()
    assert paths.db == tmp_path / "data" / "isengard.db"
    assert paths.service_log_file("web").name == "client.log"
    assert (
        paths.subprocess_log("train-abc", "stdout").parent == paths.logs / "worker" / "latest" / "subprocess"
    )


def test_unwritable_data_dir_is_a_clear_error(tmp_path):
    # /proc refuses new folders even for root, so this holds on every machine
    with pytest.raises(StorageError, match="Cannot create /proc/isengard-data"):
        Paths(Path("/proc/isengard-data"), tmp_path / "logs", tmp_path / "tmp").ensure()


def test_data_dir_that_is_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="Cannot create"):
        Paths(blocker, tmp_path / "logs", tmp_path / "tmp").ensure()


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b", "..", "", "   ", "x" * 300, "emoji 🙂 name"])
def test_safe_component_never_escapes(name):
    part = safe_component(name)
    assert "/" not in part and part not in ("", ".", "..")
    assert len(part) <= 80


def test_inside_data_refuses_escapes(tmp_path):
    paths = Paths(tmp_path / "data", tmp_path / "logs", tmp_path / "tmp")
    paths.ensure()
    assert paths.inside_data(paths.outputs / "x.png") == (paths.outputs / "x.png").resolve()
    with pytest.raises(InputError):
        paths.inside_data(tmp_path / "elsewhere.png")


def test_atomic_writes_leave_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "file.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_bytes(target, b"replaced")
    assert target.read_bytes() == b"replaced"
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]
    secret = atomic_write_bytes(tmp_path / "secret", b"x", permissions=0o600)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert file_sha256(target) == hashlib.sha256(b"replaced").hexdigest()


def test_failed_atomic_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")

    def broken(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_save(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
