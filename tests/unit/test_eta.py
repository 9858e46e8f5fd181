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
