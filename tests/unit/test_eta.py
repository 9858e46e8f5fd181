"""The smoothed time estimate: counts down with the clock and does not follow a single slow step."""

from __future__ import annotations

from isengard.jobs.eta import EtaSmoother


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_spike_moves_the_estimate_a_little_and_a_lasting_change_fully():
    clock = Clock()
    eta = EtaSmoother(clock=clock)
    assert eta.update(240) == 240  # the first report is taken as it is
    clock.now = 10
    spike = eta.update(17 * 60)  # one slow step (a sample pass): raw says 17 minutes
    assert 230 < spike < 450, spike  # 4 min → about 6, not 17
    shown = [spike]
    for t in range(20, 200, 10):  # the speed really halved at t=10: 230 s of work now takes 460 s
        clock.now = t
        shown.append(eta.update(460 - (t - 10)))
    assert abs(shown[-1] - (460 - 180)) < 10  # it caught up with the lasting change


def test_steady_reports_count_down_with_the_clock():
    clock = Clock()
    eta = EtaSmoother(clock=clock)
    eta.update(100)
    values = []
    for t in range(5, 100, 5):
        clock.now = t
        values.append(eta.update(100 - t))
    assert values == sorted(values, reverse=True)
    assert all(abs(v - (100 - t)) < 0.5 for v, t in zip(values, range(5, 100, 5), strict=True))


def test_an_estimate_that_swings_more_than_twice_says_estimating():
    clock = Clock()
    eta = EtaSmoother(clock=clock)
    eta.update(21 * 60)
    clock.now = 10
    eta.update(60)
    assert not eta.settled  # two reports: not enough to say
    clock.now = 20
    eta.update(5 * 60)
    assert not eta.settled  # 21 min, 1 min, 5 min: the end moves by 20 minutes
    for t in range(30, 80, 10):  # a steady pace: each report names the same end
        clock.now = t
        eta.update(320 - t)
    assert eta.settled
    for t in range(80, 300, 10):  # the end draws near: 40 s, 30 s, 20 s left is not a swing
        clock.now = t
        eta.update(320 - t)
    assert eta.settled
    eta.reset()
    assert not eta.settled  # new work starts over


def test_every_view_reads_the_same_state_and_no_past_phase_lingers(tmp_path):
    """The Training panel, the header, Settings → jobs and the CLI read one `Reading` of the record;
    a phase's message (a first-use build, "Making samples") ends with the phase."""
    import re
    from types import SimpleNamespace

    from isengard.cli.common import progress_line
    from isengard.jobs import JobRunner
    from isengard.jobs.reading import read
    from isengard.storage.db import Database
    from isengard.ui.activity import describe
    from isengard.ui.job_views import job_line

    runner = JobRunner(Database(tmp_path / "jobs.db"), lock_dir=tmp_path / "locks")
    runner.start()
    seen = {}

    def training(ctx, params):
        ctx.progress(phase="preparing", step=3, total=10, message="Building the tiny flux model")
        ctx.progress(phase="training", step=0, total=30, message="Training")
        for step in (6, 12, 24):  # reported within the same moment: the same end each time
            ctx.progress(phase="training", step=step, total=30, eta_s=18.0)
        ctx.progress(phase="sampling", message="Making samples (5 of 5)")
        ctx.progress(phase="training", step=24, total=30, eta_s=18.0)
        ctx.flush()
        seen["record"] = runner.get(ctx.job_id)
        return {}

    runner.register("train", training, uses_gpu=False)
    runner.wait(runner.submit("train", {}, title="Training Ada"), timeout=10)
    job = seen["record"]
    now = read(job)
    assert now.steps_text == "step 24 of 30" and now.percent == 80
    assert now.time_left == "under a minute left"  # samples between steps keep training's settled estimate
    assert now.message is None  # neither the build's nor the samples' message lingers
    assert "Building" not in job_line(job) and "Making samples" not in job_line(job)
    ctx = SimpleNamespace(characters=None)
    header = describe(ctx, job).text
    assert re.search(r"\b80 %", header) and now.time_left in header  # the header says what the panel says
    assert (
        now.time_left in job_line(job)
        and now.time_left in progress_line(job)
        and now.time_left in job.summary()
    )
    runner.shutdown()
    runner.db.close()
