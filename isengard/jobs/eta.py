"""A time estimate that does not jump about.

A trainer's raw estimate is `steps left / current speed`, and the speed swings: a sample pass or a
checkpoint save stalls a few steps, the first steps are slow while kernels warm up. Shown as it comes,
the estimate reads 4 → 17 → 8 minutes. Between reports the smoothed estimate counts down with the clock;
each new report pulls it only part of the way (an exponential moving average on the countdown), so a
single slow step moves it a little and a lasting change of speed moves it fully within a few reports.
"""

from __future__ import annotations

import time

PULL = 0.2  # how far each report moves the estimate towards the raw value


class EtaSmoother:
    def __init__(self, pull: float = PULL, clock=time.monotonic):
        self.pull = pull
        self.clock = clock
        self._eta: float | None = None
        self._at = 0.0

    def update(self, raw_seconds: float) -> float:
        now = self.clock()
        if self._eta is None:
            self._eta = float(raw_seconds)
        else:
            counted_down = max(0.0, self._eta - (now - self._at))
            self._eta = counted_down + self.pull * (float(raw_seconds) - counted_down)
        self._at = now
        return round(self._eta, 1)

    def reset(self) -> None:
        self._eta = None
