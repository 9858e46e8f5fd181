import threading
import time

import pytest

from isengard.errors import InputError, IsengardError
from isengard.jobs import JobRunner
from isengard.obs import setup_logging, use_correlation
from isengard.storage.db import Database
from plugins.base import Cancelled
from tests.helpers import read_log_lines, wait_for


@pytest.fixture
def runner(tmp_path):
    setup_logging(tmp_path / "logs", "DEBUG", console=False)
    db = Database(tmp_path / "jobs.db")
    r = JobRunner(db, gpu_slots=1)
    r.start()
    yield r
    r.shutdown()
    db.close()


def test_job_succeeds_with_progress_and_result(runner):
    def handler(ctx, params):
        for step in range(1, params["n"] + 1):
            ctx.progress(step=step, total=params["n"], loss=1.0 / step)
        return {"answer": 42}

    runner.register("count", handler)
    job_id = runner.submit("count", {"n": 5}, title="Count")
    job = runner.wait(job_id, timeout=10)
    assert job.status == "succeeded" and job.result == {"answer": 42}
    assert job.progress["step"] == 5 and job.fraction == 1.0
    steps = [e.data["step"] for e in runner.events(job_id, type_="progress")]
    assert steps == [1, 2, 3, 4, 5]
    statuses = [e.data["status"] for e in runner.events(job_id, type_="status")]
    assert statuses == ["running", "succeeded"]


def test_progress_from_several_threads_of_one_job_loses_nothing(runner):
    """A plugin that reports from its own threads (huggingface_hub uploads files in parallel): every event
    is kept, numbered once — two flushes at the same moment once numbered their batches alike."""

    def handler(ctx, params):
        def report(worker: int) -> None:
            for i in range(40):
                ctx.progress(message=f"worker {worker} part {i}")  # a message flushes at once

        threads = [threading.Thread(target=report, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {}

    runner.register("parallel", handler, uses_gpu=False)
    job = runner.wait(runner.submit("parallel", {}, title="Parallel"), timeout=30)
    assert job.status == "succeeded", job.error
    said = [e.data["message"] for e in runner.events(job.id, type_="progress")]
    assert sorted(said) == sorted(f"worker {w} part {i}" for w in range(6) for i in range(40))


def test_failures_keep_a_clear_message(runner):
    def user_error(ctx, params):
        raise IsengardError("The photo folder is empty.")

    def crash(ctx, params):
        raise ZeroDivisionError("division by zero")

    runner.register("user_error", user_error)
    runner.register("crash", crash)
    assert runner.wait(runner.submit("user_error", {}, title="A"), 10).error == "The photo folder is empty."
    crashed = runner.wait(runner.submit("crash", {}, title="B"), 10)
    assert crashed.status == "failed" and "ZeroDivisionError" in crashed.error


def test_cancel_stops_within_a_step(runner):
    steps_done = []

    def slow(ctx, params):
        for step in range(1000):
            ctx.check_cancelled()
            steps_done.append(step)
            ctx.progress(step=step, total=1000)
            time.sleep(0.01)

    runner.register("slow", slow)
    job_id = runner.submit("slow", {}, title="Slow")
    wait_for(lambda: len(steps_done) > 3)
    assert runner.cancel(job_id) is True
    job = runner.wait(job_id, timeout=10)
    assert job.status == "cancelled"
    assert len(steps_done) < 1000
    assert runner.cancel(job_id) is False  # already ended


def test_gpu_lock_serialises_gpu_jobs_but_not_cpu_jobs(runner):
    """The GPU jobs hold until the CPU job has finished: a CPU job queued behind them would never finish
    (no wall-clock bound, so a loaded machine cannot change the verdict)."""
    active, peak, lock = [0], [0], threading.Lock()
    cpu_done = threading.Event()

    def gpu_job(ctx, params):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        cpu_done.wait(10)
        time.sleep(0.05)
        with lock:
            active[0] -= 1

    runner.register("gpu", gpu_job, uses_gpu=True)
    runner.register("cpu", lambda ctx, p: cpu_done.set(), uses_gpu=False)
    ids = [runner.submit("gpu", {}, title=f"G{i}") for i in range(3)]
    cpu_id = runner.submit("cpu", {}, title="C")
    assert cpu_done.wait(5), "the CPU job waited behind the GPU jobs"
    assert runner.wait(cpu_id, 10).status == "succeeded"
    assert all(runner.wait(i, 10).status == "succeeded" for i in ids)
    assert peak[0] == 1


def test_correlation_id_is_carried_into_the_worker(runner, tmp_path):
    runner.register("hello", lambda ctx, p: ctx.log("hello.worked", "hello from the job") or {})
    with use_correlation("ui-action-77", service="api"):
        job_id = runner.submit("hello", {}, title="Hello")
    job = runner.wait(job_id, 10)
    assert job.correlation_id == "ui-action-77"
    worker = read_log_lines(tmp_path / "logs", "worker")
    assert {line["correlation_id"] for line in worker} == {"ui-action-77"}
    assert "hello.worked" in {line["event"] for line in worker}


def test_orphaned_jobs_become_interrupted_and_resume(tmp_path):
    setup_logging(tmp_path / "logs", "INFO", console=False)
    db = Database(tmp_path / "jobs.db")
    db.execute(
        "INSERT INTO jobs(id, kind, title, status, correlation_id, params, progress, owner, created_at, updated_at)"
        " VALUES ('train-1','train','Train Alice','running','c9','{\"steps\": 10}','{\"step\": 4}',"
        "'otherhost:1:1.0', 1, 1)"
    )
    runner = JobRunner(db)
    seen = {}

    def train(ctx, params):
        seen.update(params)
        return {"ok": True}

    runner.register("train", train, resumable=True)
    assert runner.start() == ["train-1"]
    job = runner.get("train-1")
    assert job.status == "interrupted" and "Resume" in job.error
    runner.resume("train-1")
    assert runner.wait("train-1", 10).status == "succeeded"
    assert seen == {"steps": 10, "resume": True}
    with pytest.raises(InputError, match="only stopped jobs"):
        runner.resume("train-1")
    runner.shutdown()
    db.close()


def test_a_second_runner_can_follow_and_cancel(runner, tmp_path):
    started = threading.Event()

    def slow(ctx, params):
        started.set()
        for step in range(500):
            ctx.check_cancelled()
            ctx.progress(step=step, total=500)
            time.sleep(0.01)

    runner.register("slow", slow)
    job_id = runner.submit("slow", {}, title="Slow")
    started.wait(5)
    other = JobRunner(Database(tmp_path / "jobs.db"))  # as if another process (the CLI)
    other.cancel(job_id)  # only sets the flag in the database; the owner's watcher acts on it
    final = other.wait(job_id, timeout=15)
    assert final.status == "cancelled"
    other.shutdown()


def test_cancelled_exception_from_plugin_is_cancelled_status(runner):
    def plugin(ctx, params):
        raise Cancelled("stopped at step 3; last checkpoint kept")

    runner.register("p", plugin)
    job = runner.wait(runner.submit("p", {}, title="P"), 10)
    assert job.status == "cancelled" and "step 3" in job.error


def test_unknown_job_and_kind(runner):
    with pytest.raises(ValueError):
        runner.submit("nope", {}, title="x")
    with pytest.raises(InputError):
        runner.cancel("missing")
    assert runner.get("missing") is None
