"""Re-record the tiny models' shipped weights: `python -m isengard.tiny.freeze [NAME ...]`.

For developers, after changing a tiny architecture (a build refuses weights that do not match it) or the
VAE pre-training. It builds each model the slow way — random initialisation from fixed seeds, then
`VAE_STEPS` steps of VAE pre-training — and writes `isengard/tiny/weights/<name>.safetensors`. The result
depends on the machine (see `isengard/tiny/frozen.py`), which is why it is recorded once and shipped; after
re-recording, bump `BUILD_VERSION` and re-record the golden loss curve (`python -m tests.golden.record`).
"""

from __future__ import annotations

import argparse
import importlib
import time

from isengard.tiny.frozen import modules_of, save_frozen, weights_file
from isengard.tiny.models import FAMILIES, VAE_STEPS

NAMES = (*FAMILIES, "blip", "florence2")


def freeze(name: str) -> None:
    import torch

    torch.manual_seed(0)
    if name == "blip":
        from isengard.tiny.blip import blip_architecture

        model, _ = blip_architecture()
        save_frozen(weights_file(name), {"model": model}, note="tiny BLIP: random weights")
        return
    if name == "florence2":
        from isengard.tiny.florence2 import florence2_architecture

        model, _ = florence2_architecture()
        save_frozen(weights_file(name), {"model": model}, note="tiny Florence-2: random weights")
        return
    builder = importlib.import_module(f"isengard.tiny.{name}")
    pipe = builder.build(vae_steps=VAE_STEPS)
    extras = builder.extras(pipe) if hasattr(builder, "extras") else None
    save_frozen(
        weights_file(name),
        modules_of(pipe),
        extras=extras,
        note=f"tiny {name}: random weights, VAE pre-trained {VAE_STEPS} steps on synthetic colours",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(NAMES)} (default: all)")
    names = parser.parse_args(argv).names or list(NAMES)
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        parser.error(f"unknown tiny model {', '.join(unknown)}; known: {', '.join(NAMES)}")
    for name in names:
        started = time.monotonic()
        freeze(name)
        size = weights_file(name).stat().st_size
        print(f"{name}: {size / 1e6:.2f} MB in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
