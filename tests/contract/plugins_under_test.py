"""How to build each registered plugin for its contract suite. A plugin missing here fails the meta-test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from plugins.base import Plugin
from plugins.image.mock import MockImageBackend
from plugins.training.mock import MockTrainer

# (kind, name) -> factory(tmp_path) -> (plugin, base model family to test with)
FACTORIES: dict[tuple[str, str], Callable[[Path], tuple[Plugin, str]]] = {
    ("training", "mock"): lambda tmp: (MockTrainer(seconds_per_run=0.5), "sdxl"),
    ("image", "mock"): lambda tmp: (MockImageBackend(seconds_per_step=0.0), "flux"),
}


def factories(kind: str) -> list[tuple[str, Callable]]:
    return [(name, factory) for (k, name), factory in FACTORIES.items() if k == kind]
