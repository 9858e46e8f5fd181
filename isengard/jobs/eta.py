"""A time estimate that does not jump about.

A trainer's raw estimate is `steps left / current speed`, and the speed swings: a sample pass or a
checkpoint save stalls a few steps, the first steps are slow while kernels warm up. Shown as it comes,
the estimate reads 4 → 17 → 8 minutes. Between reports the smoothed estimate counts down with the clock;
each new report pulls it only part of the way (an exponential moving average on the countdown), so a
single slow step moves it a little and a lasting change of speed moves it fully within a few reports.
While the raw estimates still swing more than 2× (a first build, the first steps), none is shown: the
screen says "estimating…" rather than a number that may be wrong by half.
"""

from __future__ import annotations

import time

PULL = 0.2  # how far each report moves the estimate towards the raw value
SETTLED_REPORTS = 3  # raw estimates needed before one is shown
SWING = 2.0  # recent reports whose predicted ends differ more than this (in time left) are not shown
RECENT = 5


class EtaSmoother:
    def __init__(self, pull: float = PULL, clock=time.monotonic):
        self.pull = pull
        self.clock = clock
        self._eta: float | None = None
        self._at = 0.0
        self._finishes: list[float] = []  # when each recent report said the work would end

    def update(self, raw_seconds: float) -> float:
        now = self.clock()
        self._finishes = [*self._finishes, now + max(0.0, float(raw_seconds))][-RECENT:]
        if self._eta is None:
            self._eta = float(raw_seconds)
        else:
            counted_down = max(0.0, self._eta - (now - self._at))
            self._eta = counted_down + self.pull * (float(raw_seconds) - counted_down)
        self._at = now
        return round(self._eta, 1)

    @property
    def settled(self) -> bool:
        """Enough reports, and the recent ones agree on when the work ends to within 2× of the time
        left (a steady job predicts the same end again and again): else "estimating…"."""
        if len(self._finishes) < SETTLED_REPORTS:
            return False
        now = self.clock()
        latest = max(self._finishes) - now
        soonest = max(1.0, min(self._finishes) - now)
        return latest <= SWING * soonest

    def reset(self) -> None:
        self._eta = None
        self._finishes = []
