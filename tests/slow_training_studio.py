"""Test double: the fast-test studio whose simulated training takes `SECONDS_PER_RUN` (default 40 s)
instead of 5 s, so a browser test has time to queue a generation behind it — and, with `FAIL_AT_STEP=N`,
fails at step N with a plain reason, so a test can follow a failed job in every view.
`python -m tests.slow_training_studio`."""

from __future__ import annotations

import os

FAILURE = "The simulated GPU stopped answering (a test of a failed training)."


def failing_at(step: int, run):
    """The mock trainer's run, failing once it reports `step` (a test double of a training that breaks)."""
    from plugins.base import PluginError

    def run_until(request, ctx):
        original = ctx.progress

        def progress(**fields):
            original(**fields)
            if fields.get("step", 0) >= step:
                raise PluginError(FAILURE)

        ctx.progress = progress
        return run(request, ctx)

    return run_until


def main() -> None:
    from isengard.context import bootstrap
    from isengard.server import launch

    ctx = bootstrap(rotate_logs=True)
    trainer = ctx.registry.get("training", "mock")
    trainer.seconds_per_run = float(os.environ.get("SECONDS_PER_RUN", "40"))
    if os.environ.get("FAIL_AT_STEP"):
        trainer.run = failing_at(int(os.environ["FAIL_AT_STEP"]), trainer.run)
    launch(ctx, block=True)


if __name__ == "__main__":
    main()
