"""Where a job's GPU work runs — the one seam between the job runner and the machines.

A service hands its plugin call to `run_plugin(plugin, request, ctx)` and gets the plugin's result back, as
if it had called `plugin.run(request, ctx)` itself; it never learns where the call ran:

* `LocalPlacement` runs it right here, in the job's thread, on the GPU the job's slot names (the default:
  one process, `python app.py`);
* `isengard.jobs.redis_queue.QueuePlacement` sends it through Redis to a GPU worker on any machine
  (`REDIS_URL`), while progress, Stop and the result travel back to this process, the only writer of its
  database.
"""

from __future__ import annotations

from typing import Any, Protocol


class Placement(Protocol):
    #: whether the job itself takes one of this machine's GPU slots (a queue's worker holds its own GPU)
    holds_local_gpu: bool

    def run(self, plugin: Any, request: Any, ctx: Any) -> Any:
        """Run `plugin.run(request, ctx)` somewhere; progress and cancel go through `ctx`."""

    def close(self) -> None: ...


class LocalPlacement:
    holds_local_gpu = True

    def run(self, plugin: Any, request: Any, ctx: Any) -> Any:
        return plugin.run(request, ctx)

    def close(self) -> None:
        pass


LOCAL = LocalPlacement()


def run_plugin(plugin: Any, request: Any, ctx: Any) -> Any:
    """What a service calls instead of `plugin.run(request, ctx)`: the job's placement decides where."""
    placement = getattr(ctx, "placement", None) or LOCAL
    return placement.run(plugin, request, ctx)
