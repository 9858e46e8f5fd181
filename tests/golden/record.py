"""The golden loss curve: `python -m tests.golden.record` re-records it (after bumping the trainer version);
`--check` trains the same run, compares it with the recorded curve and prints the result as JSON (the
portability test runs it under other CPU kernels and thread counts)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from plugins.base import PluginSettings, SimpleRunContext
from plugins.training.diffusers_trainer import DiffusersTrainer
from tests.integration.test_training_control import GOLDEN, _request

RELATIVE = 2e-3  # measured across kernels and thread counts: at most 6e-7 (see test_golden_curve_portability)
ABSOLUTE = 1e-4


def tiny_losses(**params) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        request = _request(tmp_path, tmp_path / "models", save_every=1000, **params)
        result = DiffusersTrainer(PluginSettings(mode="production")).run(request, SimpleRunContext())
    return [float(v) for v in result.metadata["losses"].split(",")]


def deviation(losses: list[float], golden: list[float]) -> float:
    """The largest relative difference from the golden curve (inf when the lengths differ)."""
    if len(losses) != len(golden):
        return float("inf")
    return max(abs(a - b) / max(abs(b), ABSOLUTE / RELATIVE) for a, b in zip(losses, golden, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the recorded curve instead")
    args = parser.parse_args(argv)
    losses = tiny_losses()
    if args.check:
        import torch

        golden = json.loads(GOLDEN.read_text())["losses"]
        worst = deviation(losses, golden)
        print(
            json.dumps(
                {
                    "losses": losses,
                    "max_relative_deviation": worst,
                    "ok": worst <= RELATIVE,
                    "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                    "threads": torch.get_num_threads(),
                }
            )
        )
        return 0 if worst <= RELATIVE else 1
    GOLDEN.write_text(
        json.dumps(
            {"plugin_version": DiffusersTrainer.version, "steps": len(losses), "losses": losses}, indent=2
        )
        + "\n"
    )
    print(f"recorded {len(losses)} losses for trainer {DiffusersTrainer.version} in {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
