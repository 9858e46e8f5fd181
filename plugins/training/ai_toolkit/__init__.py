"""The ai-toolkit training backend (trainer.py drives the subprocess; config.py writes its job file;
process.py reads what it prints and writes)."""

from plugins.training.ai_toolkit.trainer import AIToolkitTrainer

__all__ = ["AIToolkitTrainer"]
