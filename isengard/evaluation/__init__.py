"""Likeness: how much pictures look like a character, which checkpoint looks most like them, and the signs
of over-training (copying a training photo, every picture collapsing to one face)."""

from isengard.evaluation.copying import collapse_spread, copied_photo, is_collapsed, thumbprint
from isengard.evaluation.likeness import (
    CheckpointSummary,
    ProbeScore,
    Reference,
    best_checkpoint,
    likeness,
    reference_identity,
    summarise,
)

__all__ = [
    "CheckpointSummary",
    "ProbeScore",
    "Reference",
    "best_checkpoint",
    "collapse_spread",
    "copied_photo",
    "is_collapsed",
    "likeness",
    "reference_identity",
    "summarise",
    "thumbprint",
]
