"""Stop when it is done: a training ends itself once more steps no longer buy a better likeness.

After each round of probes the scored checkpoints so far decide: stop when the likeness has not improved
(by more than `MIN_GAIN` points) for `patience` rounds, or as soon as a round starts copying a training
photo or collapses to one face while an earlier round was clean. The best clean round is kept. Never
on a run whose probes show too few faces to judge: with nothing judged there is nothing to keep and no
way to tell.
"""

from __future__ import annotations

from dataclasses import dataclass

from isengard.evaluation.likeness import CheckpointSummary, flag_words

MIN_GAIN = 1.0  # points on the 0–100 scale: less is noise, not progress


@dataclass(frozen=True)
class StopDecision:
    best_step: int  # the best clean round: its checkpoint becomes the LoRA
    at_step: int  # the round that decided
    why: str  # "likeness stopped improving after step 1,000" / "step 1,250 starts copying photo #2"

    def sentence(self, stopped_at: int, total: int) -> str:
        saved = max(0, total - stopped_at) / total if total else 0.0
        return (
            f"Stopped at step {stopped_at:,} of {total:,}: {self.why} — saved {saved:.0%} of the time. "
            f"The LoRA is the checkpoint from step {self.best_step:,}."
        )


def decide(summaries: list[CheckpointSummary], patience: int) -> StopDecision | None:
    """Whether to stop now, from every scored round so far (in any order); None: go on."""
    rounds = sorted((s for s in summaries if s.step > 0), key=lambda s: s.step)
    best: CheckpointSummary | None = None
    for summary in rounds:
        if summary.judged and not summary.flagged and (best is None or summary.score > best.score + MIN_GAIN):
            best = summary
    if best is None:
        return None  # nothing judged clean yet: too few faces, or flagged from the start
    latest = rounds[-1]
    if latest.step > best.step and latest.judged and latest.flagged:
        return StopDecision(best.step, latest.step, f"step {latest.step:,} starts {flag_words(latest)}")
    since = [s for s in rounds if s.step > best.step]
    if len(since) >= patience:
        return StopDecision(best.step, latest.step, f"likeness stopped improving after step {best.step:,}")
    return None
