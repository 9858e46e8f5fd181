"""Jobs tell the truth: a full disk, a read-only folder or a dead owner never leaves a job "running"."""

from __future__ import annotations

import errno
import subprocess
import sys
import threading
import time
from pathlib import Path

from isengard.gpu_lock import GpuLock
from isengard.jobs import JobRunner
from isengard.obs import setup_logging, use_correlation
from isengard.storage.db import Database
from tests.helpers import read_log_lines, wait_for


def _runner(folder: Path, log_dir: Path) -> JobRunner:
    setup_logging(log_dir, "DEBUG", console=False)
    runner = JobRunner(Database(folder / "jobs.db"), lock_dir=folder / "locks")
    runner.start()
    return runner


def _fill(folder: Path) -> Path:
    filler = folder / "filler.bin"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 16))
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_mid_job_ends_it_as_failed_with_the_reason(tmp_path, small_disk, write_faults):
    folder = small_disk or tmp_path / "data"
    folder.mkdir(exist_ok=True)
    runner = _runner(folder, tmp_path / "logs")
    started, fill_now = threading.Event(), threading.Event()

    def writer(ctx, params):
        started.set()
        fill_now.wait(10)
        for i in range(1000):  # big progress messages: the database must grow, and cannot
            ctx.progress(step=i, total=1000, message="x" * 200_000)
        return {"never": True}

    runner.register("write", writer, uses_gpu=False)
    with use_correlation("disk-full-cid", service="api"):
        job_id = runner.submit("write", {}, title="Writer")
    assert started.wait(10)
    filler = _fill(folder) if small_disk else None
    if small_disk is None:
        write_faults.start("full")
    fill_now.set()
    job = wait_for(lambda: (j := runner.get(job_id)) and j.terminal and j)
    assert job.status == "failed" and "disk is full" in job.error
    assert runner.cancel(job_id) is False  # ended, truthfully, not "running" for ever
    # space comes back: the ending the database refused is written by the owner in the background
    if filler is not None:
        filler.unlink()
    write_faults.stop()
    other = Database(folder / "jobs.db")
    wait_for(
        lambda: other.one("SELECT status FROM jobs WHERE id=?", (job_id,))["status"] == "failed", timeout=20
    )
    worker = [
        x for x in read_log_lines(tmp_path / "logs", "worker") if x["correlation_id"] == "disk-full-cid"
    ]
    assert {"job.failed"} <= {x["event"] for x in worker}
    failed = next(x for x in worker if x["event"] == "job.failed")
    assert failed["level"] == "WARNING" and "unexpected" not in failed["message"]  # a machine's fault
    assert "disk is full" in failed["message"] and "traceback" not in failed["context"]
    other.close()
    runner.shutdown()
    runner.db.close()


def test_a_read_only_data_folder_mid_run_fails_the_job_and_cancel_still_works(tmp_path, write_faults):
    runner = _runner(tmp_path, tmp_path / "logs")
    started, go = threading.Event(), threading.Event()

    def slow(ctx, params):
        started.set()
        while True:
            ctx.check_cancelled()
            if go.is_set():
                from isengard.storage.files import atomic_write_text

                atomic_write_text(tmp_path / "checkpoint.txt", "step")
            time.sleep(0.01)

    runner.register("slow", slow, uses_gpu=False)
    first = runner.submit("slow", {}, title="Slow")
    assert started.wait(10)
    write_faults.start("readonly")
    go.set()
    job = wait_for(lambda: (j := runner.get(first)) and j.terminal and j)
    assert job.status == "failed" and "read-only" in job.error

    # a second job, running while the folder is read-only: Cancel works although nothing can be written
    write_faults.stop()
    go.clear()
    started.clear()
    second = runner.submit("slow", {}, title="Slow again")
    assert started.wait(10)
    write_faults.start("readonly")
    assert runner.cancel(second) is True
    job = wait_for(lambda: (j := runner.get(second)) and j.terminal and j)
    assert job.status == "cancelled"
    write_faults.stop()
    wait_for(
        lambda: runner.db.one("SELECT status FROM jobs WHERE id=?", (second,))["status"] == "cancelled", 20
    )
    runner.shutdown()
    runner.db.close()


def test_an_exception_in_the_runners_own_start_write_still_ends_the_job(tmp_path, write_faults, monkeypatch):
    runner = _runner(tmp_path, tmp_path / "logs")
    runner.register("noop", lambda ctx, params: {"ok": True}, uses_gpu=False)
    calls = {"n": 0}
    real = Database.execute

    def flaky(self, sql, params=()):
        if "status='running'" in sql:
            calls["n"] += 1
            raise __import__("sqlite3").OperationalError("database is locked")
        return real(self, sql, params)

    monkeypatch.setattr(Database, "execute", flaky)
    job = runner.wait(runner.submit("noop", {}, title="Noop"), timeout=20)
    assert calls["n"] == 1 and job.status == "failed" and "busy" in job.error
    runner.shutdown()
    runner.db.close()


def test_a_job_on_another_host_reads_as_interrupted_once_its_heartbeat_stops(tmp_path):
    runner = _runner(tmp_path, tmp_path / "logs")
    now = time.time()
    for job_id, beat in (("fresh", now), ("stale", now - 3600)):
        runner.db.execute(
            "INSERT INTO jobs(id, kind, title, status, correlation_id, params, progress, owner, created_at,"
            " updated_at, heartbeat_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (job_id, "train", job_id, "running", "c", "{}", "{}", "gpu-box-2:77:1.0", now, beat, beat),
        )
    assert runner.get("fresh").status == "running"
    stale = runner.get("stale")
    assert stale.status == "interrupted" and "stopped" in stale.error and stale.terminal
    runner.shutdown()
    runner.db.close()


def test_a_dead_local_owner_is_recorded_by_the_first_reader_and_the_job_resumes(tmp_path):
    import socket

    runner = _runner(tmp_path, tmp_path / "logs")
    seen = {}
    runner.register("train", lambda ctx, params: seen.update(params), resumable=True, uses_gpu=False)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    owner = f"{socket.gethostname()}:{dead.stdout.strip()}:1.0"  # a process of this host that has ended
    now = time.time()
    runner.db.execute(
        "INSERT INTO jobs(id, kind, title, status, correlation_id, params, progress, owner, created_at,"
        " updated_at, heartbeat_at) VALUES ('t1','train','Train Ada','running','c','{}','{}',?,?,?,?)",
        (owner, now, now, now),
    )
    (tmp_path / "endings").mkdir(exist_ok=True)
    (tmp_path / "endings" / "t1").write_bytes(b"\0" * 8192)  # the space it reserved when it started
    job = runner.get("t1")
    assert job.status == "interrupted"
    assert runner.db.one("SELECT status FROM jobs WHERE id='t1'")["status"] == "interrupted"
    assert not (tmp_path / "endings" / "t1").exists()  # recorded: the reserved space is given back
    runner.resume("t1")
    assert runner.wait("t1", timeout=20).status == "succeeded" and seen == {"resume": True}
    runner.shutdown()
    runner.db.close()


def test_one_gpu_lock_per_machine_across_processes(tmp_path):
    """Another process (a CLI `train`) holds the GPU: the studio's GPU job waits and says who it waits for."""
    locks = tmp_path / "locks"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from isengard.gpu_lock import GpuLock; "
            f"s = GpuLock({str(locks)!r}).try_acquire({{'title': 'Train Ada (CLI)'}}); "
            "print('held' if s else 'busy', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        runner = _runner(tmp_path, tmp_path / "logs")
        ran = threading.Event()
        runner.register("gpu", lambda ctx, p: ran.set(), uses_gpu=True)
        job_id = runner.submit("gpu", {}, title="Generate")
        wait_for(lambda: "Train Ada (CLI)" in (runner.get(job_id).progress.get("message") or ""))
        assert not ran.is_set()
        holder.kill()  # the kernel drops a dead holder's lock: nothing stays "taken"
        holder.wait(10)
        assert runner.wait(job_id, timeout=20).status == "succeeded"
        runner.shutdown()
        runner.db.close()
    finally:
        holder.kill()


def test_quick_cpu_work_never_waits_behind_gpu_work(tmp_path):
    runner = _runner(tmp_path, tmp_path / "logs")
    release = threading.Event()
    runner.register("train", lambda ctx, p: release.wait(30), uses_gpu=True)
    runner.register("check", lambda ctx, p: {"checked": True}, uses_gpu=False)
    trainings = [runner.submit("train", {}, title=f"Train {i}") for i in range(5)]  # one runs, four queue
    wait_for(lambda: any(runner.get(j).status == "running" for j in trainings))
    check = runner.wait(runner.submit("check", {}, title="Check photos"), timeout=10)
    assert check.status == "succeeded"
    statuses = sorted(runner.get(j).status for j in trainings)
    assert statuses == ["queued"] * 4 + ["running"]  # the GPU work is still where it was
    release.set()
    for job_id in trainings:
        assert runner.wait(job_id, timeout=30).status == "succeeded"
    runner.shutdown()
    runner.db.close()


def test_a_flock_lock_is_released_when_its_holder_closes(tmp_path):
    lock = GpuLock(tmp_path, slots=2)
    a, b = lock.try_acquire({"title": "a"}), lock.try_acquire({"title": "b"})
    assert a and b and lock.try_acquire({"title": "c"}) is None  # two slots, both taken
    lock.release(a)
    assert lock.try_acquire({"title": "d"}) is not None


def test_kill_9_mid_training_then_readers_in_another_process(tmp_path):
    from tests.helpers import child_env, run_cli, solid_photos

    env = child_env(tmp_path)
    photos = solid_photos(tmp_path / "photos", count=3)
    assert run_cli(["character", "create", "Kim", "--photos", *map(str, photos)], env).returncode == 0
    train = subprocess.Popen(
        [sys.executable, "-m", "isengard", "train", "Kim", "--base", "flux-dev", "--steps", "100"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = tmp_path / "data" / "isengard.db"
    wait_for(lambda: db.exists() and _running(db), timeout=60)
    train.kill()
    train.wait(10)
    listed = run_cli(["jobs", "list", "--json"], env)
    assert listed.returncode == 0
    import json

    training = next(j for j in json.loads(listed.stdout)["jobs"] if j["kind"] == "train")
    assert training["status"] == "interrupted"
    followed = run_cli(["jobs", "follow", training["id"]], env, timeout=60)  # returns instead of hanging
    assert "interrupted" in followed.stderr + followed.stdout
    resumed = run_cli(["jobs", "resume", training["id"]], env, timeout=120)
    assert resumed.returncode == 0, resumed.stderr


def _running(db: Path) -> bool:
    import sqlite3

    conn = sqlite3.connect(db, timeout=5)
    try:
        row = conn.execute("SELECT progress FROM jobs WHERE kind='train' AND status='running'").fetchone()
        return bool(row and '"step"' in (row[0] or ""))
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def test_a_full_disk_reason_outlives_the_process_that_ran_the_job(tmp_path):
    """The job fails because the disk is full, the database on that disk cannot record why, and the process
    exits before space comes back: once it has, every reader (here the CLI) says "failed: the disk is full",
    not "interrupted — the process stopped"."""
    import json

    from tests.faults.conftest import _try_mount_tmpfs
    from tests.helpers import child_env

    disk = tmp_path / "disk"
    mounted = _try_mount_tmpfs(disk, "16m")
    env = {**child_env(tmp_path), "DATA_DIR": str(disk), "ISENGARD_MODE": "fast-test"}
    flag = tmp_path / "fill-now"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.disk_full_child", str(flag), *([] if mounted else ["inject"])],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        job_id = child.stdout.readline().strip()
        wait_for(lambda: (tmp_path / "started").exists(), timeout=60)
        filler = _fill(disk) if mounted else None
        flag.write_text("now")
        out, err = child.communicate(timeout=120)
        assert out.startswith("failed") and "disk is full" in out, (out, err[-2000:])
        assert child.returncode == 0
        kept = list((disk / "endings").glob("*")) if mounted else []
        if mounted:
            assert kept, "the ending was kept in the space reserved when the job started"
            filler.unlink()  # space comes back, after the process has gone
        shown = subprocess.run(
            [sys.executable, "-m", "isengard", "jobs", "show", job_id, "--json"],
            cwd=Path(__file__).resolve().parents[2],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        job = json.loads(shown.stdout)["job"]
        assert job["status"] == "failed" and "disk is full" in job["error"], job
        assert job["finished_at"], job
        assert not list((disk / "endings").glob("*")), "the reserved space is given back once recorded"
    finally:
        if child.poll() is None:
            child.kill()
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=10)
