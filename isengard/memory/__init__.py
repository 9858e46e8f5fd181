"""GPU memory from the architectures: how much a training or a picture needs, and what would fit."""

from isengard.memory.estimate import (
    MemoryEstimate,
    Phase,
    StepDown,
    generation_memory,
    lighter,
    training_memory,
)
from isengard.memory.facts import ArchitectureFacts, facts_for

__all__ = [
    "ArchitectureFacts",
    "MemoryEstimate",
    "Phase",
    "StepDown",
    "facts_for",
    "generation_memory",
    "lighter",
    "training_memory",
]
