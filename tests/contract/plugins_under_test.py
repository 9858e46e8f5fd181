"""How to build each registered plugin for its contract suite. A plugin missing here fails the meta-test.

A factory takes (tmp_path, models_dir) — models_dir is a session-wide folder where tiny models are built
once — and returns (plugin, the base model family to test it with).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from plugins.base import Plugin, PluginSettings
from plugins.captioning.blip import BlipCaptioner
from plugins.captioning.template import TemplateCaptioner
from plugins.evaluation.dlib_faces import DlibEvaluator
from plugins.image.diffusers_backend import DiffusersImageBackend
from plugins.image.mock import MockImageBackend
from plugins.training.diffusers_trainer import DiffusersTrainer
from plugins.training.mock import MockTrainer


def _comfyui(tmp: Path, models: Path) -> tuple[Plugin, str]:
    """The ComfyUI backend against the fake server of the test suite (started per test, on loopback)."""
    from isengard.settings import PROJECT_ROOT
    from plugins.image.comfyui import ComfyUIBackend
    from tests.fake_comfyui import FakeComfyUI

    fake = FakeComfyUI().start()
    fake.add_model("checkpoints", "sd15_model.safetensors")
    settings = PluginSettings(
        mode="production",
        comfyui_url=fake.url,
        tmp_dir=tmp,
        data_dir=tmp,
        workflows_dir=PROJECT_ROOT / "workflows",
    )
    return ComfyUIBackend(settings), "sd15"


STANDIN = Path(__file__).parent.parent / "fixtures" / "ai_toolkit_standin"


def _ai_toolkit(tmp: Path, models: Path) -> tuple[Plugin, str]:
    """The ai-toolkit adapter driving the stand-in run.py of the test suite (as the captures show)."""
    import sys

    from plugins.training.ai_toolkit import AIToolkitTrainer

    settings = PluginSettings(
        mode="production",
        ai_toolkit_dir=STANDIN,
        ai_toolkit_python=Path(sys.executable),
        subprocess_log_dir=tmp / "subprocess",
        data_dir=tmp,
        tmp_dir=tmp,
    )
    return AIToolkitTrainer(settings, stop_grace=10.0), "flux"


def _florence2(tmp: Path, models: Path) -> tuple[Plugin, str]:
    from isengard.tiny.florence2 import build_tiny_florence2
    from plugins.captioning.florence2 import Florence2Captioner

    source = build_tiny_florence2(models / "tiny-florence2")
    return Florence2Captioner(PluginSettings(mode="production", data_dir=tmp), source=str(source)), "sd15"


def _blip(tmp: Path, models: Path) -> tuple[Plugin, str]:
    from isengard.tiny.blip import build_tiny_blip

    source = build_tiny_blip(models / "tiny-blip")
    return BlipCaptioner(PluginSettings(mode="production", data_dir=tmp), source=str(source)), "sd15"


FACTORIES: dict[tuple[str, str], Callable[[Path, Path], tuple[Plugin, str]]] = {
    ("training", "mock"): lambda tmp, models: (MockTrainer(seconds_per_run=0.5), "flux"),
    ("training", "diffusers"): lambda tmp, models: (
        DiffusersTrainer(PluginSettings(mode="production")),
        "flux",
    ),
    ("training", "ai-toolkit"): _ai_toolkit,
    ("image", "mock"): lambda tmp, models: (MockImageBackend(seconds_per_step=0.0), "flux"),
    ("image", "diffusers"): lambda tmp, models: (
        DiffusersImageBackend(PluginSettings(mode="production", tmp_dir=tmp)),
        "sd15",
    ),
    ("image", "comfyui"): _comfyui,
    ("evaluation", "dlib"): lambda tmp, models: (DlibEvaluator(), "any"),
    ("captioning", "template"): lambda tmp, models: (TemplateCaptioner(), "sd15"),
    ("captioning", "blip"): _blip,
    ("captioning", "florence2"): _florence2,
}


def tiny_base(family: str, models: Path):
    """A ModelRef to the tiny base of `family`, built once per session under `models`."""
    from isengard.tiny.models import build_tiny_base
    from plugins.base import ModelRef

    path = build_tiny_base(family, models / f"tiny-{family}")
    return ModelRef(id=f"tiny-{family}", family=family, source=f"tiny:{family}", local_path=path)


def factories(kind: str) -> list[tuple[str, Callable]]:
    return [(name, factory) for (k, name), factory in FACTORIES.items() if k == kind]
