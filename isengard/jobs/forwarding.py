"""A job's context handed to a plugin through a layer of the core that watches or filters what the plugin
reports (the training service records checkpoints and scores probes; the evaluation keeps the image
backend's own step counts out of its progress). Everything else goes straight to the job."""

from __future__ import annotations

from typing import Any


class ForwardingContext:
    def __init__(self, ctx):
        self._ctx = ctx
        self.job_id = ctx.job_id
        self.correlation_id = getattr(ctx, "correlation_id", None)
        self.title = getattr(ctx, "title", "")

    @property
    def place(self):
        """The GPU the job holds (see isengard.jobs.context.JobContext.device)."""
        return getattr(self._ctx, "place", None)

    @property
    def placement(self):
        """Where the job's GPU work runs (see isengard.jobs.placement)."""
        return getattr(self._ctx, "placement", None)

    @property
    def device(self) -> str | None:
        return getattr(self._ctx, "device", None)

    def progress(self, **fields: Any) -> None:
        self._ctx.progress(**fields)

    def is_cancelled(self) -> bool:
        return self._ctx.is_cancelled()

    def check_cancelled(self) -> None:
        self._ctx.check_cancelled()

    def log(self, event_name: str, message: str, **context: Any) -> None:
        self._ctx.log(event_name, message, **context)
