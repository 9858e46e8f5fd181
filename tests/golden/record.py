"""Re-record the golden loss curve: `python -m tests.golden.record` (after bumping the trainer version)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from plugins.base import PluginSettings, SimpleRunContext
from plugins.training.diffusers_trainer import DiffusersTrainer
from tests.integration.test_training_control import GOLDEN, _request


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        request = _request(tmp_path, tmp_path / "models", save_every=1000)
        result = DiffusersTrainer(PluginSettings(mode="production")).run(request, SimpleRunContext())
    losses = [float(v) for v in result.metadata["losses"].split(",")]
    GOLDEN.write_text(
        json.dumps(
            {"plugin_version": DiffusersTrainer.version, "steps": len(losses), "losses": losses}, indent=2
        )
        + "\n"
    )
    print(f"recorded {len(losses)} losses for trainer {DiffusersTrainer.version} in {GOLDEN}")


if __name__ == "__main__":
    main()
