"""Test double: the fast-test studio whose simulated training takes `SECONDS_PER_RUN` (default 40 s)
instead of 5 s, so a browser test has time to queue a generation behind it — and, with `FAIL_AT_STEP=N`,
fails at step N with a plain reason, so a test can follow a failed job in every view; with
`LATE_ACTIONS=name:seconds,…` those UI actions start that much later (a server under load, made
repeatable: a redraw that lands after the person acted).
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


def late_actions(spec: str) -> None:
    """Delay the named UI actions before they run (a test double of a slow server): every action logs
    its start through `isengard.ui.actions.event` first, so waiting there delays the handler itself."""
    import time

    from isengard.ui import actions

    delays = {name: float(seconds) for name, seconds in (item.split(":") for item in spec.split(","))}
    logged = actions.event

    def event_then_wait(kind, message, **fields):
        logged(kind, message, **fields)
        if kind == "ui.action" and fields.get("action") in delays:
            time.sleep(delays[fields["action"]])

    actions.event = event_then_wait


def main() -> None:
    from isengard.context import bootstrap
    from isengard.server import launch

    ctx = bootstrap(rotate_logs=True)
    trainer = ctx.registry.get("training", "mock")
    trainer.seconds_per_run = float(os.environ.get("SECONDS_PER_RUN", "40"))
    if os.environ.get("FAIL_AT_STEP"):
        trainer.run = failing_at(int(os.environ["FAIL_AT_STEP"]), trainer.run)
    if os.environ.get("LATE_ACTIONS"):
        late_actions(os.environ["LATE_ACTIONS"])
    launch(ctx, block=True)


if __name__ == "__main__":
    main()
