"""Contract: video backends. None ships (scaffold only); any future one is checked here."""

from __future__ import annotations

import pytest

from plugins.base import Availability
from plugins.video.interface import VideoBackend, VideoRequest
from tests.contract.plugins_under_test import factories

CASES = factories("video")


def test_the_interface_cannot_be_used_without_an_implementation():
    with pytest.raises(TypeError):
        VideoBackend()  # type: ignore[abstract]
    assert VideoRequest(prompt="x").frames > 0


def test_every_video_backend_identity(tmp_path, tiny_models):  # checks each one once registered
    for _name, factory in CASES:
        plugin, _ = factory(tmp_path, tiny_models)
        assert isinstance(plugin, VideoBackend)
        assert isinstance(plugin.availability(), Availability)


def test_no_video_backend_is_registered_and_the_capability_says_so():
    from isengard.capabilities import capability_matrix
    from plugins import register_builtin_plugins
    from plugins.base import PluginRegistry, PluginSettings

    registry = PluginRegistry()
    register_builtin_plugins(registry, PluginSettings())
    assert registry.of_kind("video") == []
    video = next(r for r in capability_matrix(registry) if r["key"] == "video.generation")
    assert video["status"] == "scaffold_only" and video["usable"] is False
