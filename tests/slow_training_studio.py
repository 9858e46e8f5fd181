"""Test double: the fast-test studio whose simulated training takes `SECONDS` (default 40 s) instead of
5 s, so a browser test has time to queue a generation behind it. `python -m tests.slow_training_studio`."""

from __future__ import annotations

import os


def main() -> None:
    from isengard.context import bootstrap
    from isengard.server import launch

    ctx = bootstrap(rotate_logs=True)
    ctx.registry.get("training", "mock").seconds_per_run = float(os.environ.get("SECONDS_PER_RUN", "40"))
    launch(ctx, block=True)


if __name__ == "__main__":
    main()
