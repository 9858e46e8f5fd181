"""Plugins: training, image, video, captioning and evaluation backends behind stable interfaces.

Each `plugins/<kind>/interface.py` is the contract. Adapters live beside it and never import each other.
`register_builtin_plugins()` is the one explicit list of the plugins that ship with Isengard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plugins.base import PluginRegistry, PluginSettings


def register_builtin_plugins(registry: PluginRegistry, settings: PluginSettings) -> None:
    """Register every built-in plugin. A plugin that cannot run here still registers and says why."""
    from plugins.captioning.blip import BlipCaptioner
    from plugins.captioning.florence2 import Florence2Captioner
    from plugins.captioning.template import TemplateCaptioner
    from plugins.evaluation.dlib_faces import DlibEvaluator
    from plugins.image.comfyui import ComfyUIBackend
    from plugins.image.diffusers_backend import DiffusersImageBackend
    from plugins.image.mock import MockImageBackend
    from plugins.training.ai_toolkit import AIToolkitTrainer
    from plugins.training.diffusers_trainer import DiffusersTrainer
    from plugins.training.mock import MockTrainer

    registry.register(MockTrainer())
    registry.register(DiffusersTrainer(settings))
    registry.register(AIToolkitTrainer(settings))
    registry.register(MockImageBackend())
    registry.register(DiffusersImageBackend(settings))
    registry.register(ComfyUIBackend(settings))
    registry.register(TemplateCaptioner())
    registry.register(Florence2Captioner(settings))
    registry.register(BlipCaptioner(settings))
    registry.register(DlibEvaluator())
