"""Contract: every captioner returns one caption per photo, each containing the trigger word."""

from __future__ import annotations

from PIL import Image

from plugins.base import Availability, SimpleRunContext
from plugins.captioning.interface import Captioner, CaptionRequest
from tests.contract.plugins_under_test import factories

CASES = factories("captioning")


def _photos(tmp_path, n=3):
    paths = []
    for i in range(n):
        path = tmp_path / f"photo{i}.png"
        Image.new("RGB", (96, 96), (40 * i, 120, 200)).save(path)
        paths.append(path)
    return paths


def test_every_captioner_fulfils_the_contract(tmp_path, tiny_models):
    assert CASES, "no captioner is under test"
    for name, factory in CASES:
        plugin, _ = factory(tmp_path, tiny_models)
        assert isinstance(plugin, Captioner), name
        assert isinstance(plugin.availability(), Availability)
        photos = _photos(tmp_path)
        result = plugin.run(CaptionRequest(images=photos, trigger_word="zxqperson"), SimpleRunContext())
        assert len(result.captions) == len(photos), name
        assert all("zxqperson" in caption for caption in result.captions), name
        assert all(caption.strip() == caption and caption for caption in result.captions), name
