"""Contract: every image backend returns the asked-for images, deterministically, with progress and cancel."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from plugins.base import Availability, Cancelled, SimpleRunContext
from plugins.image.interface import ImageBackend, ImageRequest
from tests.contract.plugins_under_test import factories, tiny_base

CASES = factories("image")


@pytest.fixture(params=CASES, ids=[name for name, _ in CASES])
def backend(request, tmp_path, tiny_models):
    plugin, family = request.param[1](tmp_path, tiny_models)
    return plugin, tiny_base(family, tiny_models)


def _request(base, **kw) -> ImageRequest:
    args = dict(
        prompt="a red apple on a table", base=base, width=64, height=64, steps=3, guidance=3.0, seed=7
    )
    args.update(kw)
    return ImageRequest(**args)


def test_identity_and_availability(backend):
    plugin, _ = backend
    assert isinstance(plugin, ImageBackend) and plugin.kind == "image"
    assert isinstance(plugin.availability(), Availability)
    assert plugin.size_factor("flux") in (8, 16) and plugin.size_factor("sd15") == 8


def test_returns_count_images_of_the_requested_size_with_seeds(backend):
    plugin, base = backend
    ctx = SimpleRunContext()
    result = plugin.run(_request(base, count=2), ctx)
    assert [g.seed for g in result.images] == [7, 8]
    assert all(g.image.size == (64, 64) for g in result.images)
    steps = [e["step"] for e in ctx.events if "step" in e]
    assert steps and steps[-1] == 6 and steps == sorted(steps)


def test_same_seed_same_pixels_other_seed_other_pixels(backend):
    plugin, base = backend
    a = plugin.run(_request(base), SimpleRunContext()).images[0].image
    b = plugin.run(_request(base), SimpleRunContext()).images[0].image
    c = plugin.run(_request(base, seed=8), SimpleRunContext()).images[0].image
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_cancel_raises_cancelled(backend):
    plugin, base = backend
    ctx = SimpleRunContext()

    def cancel_soon():
        while not ctx.events:
            threading.Event().wait(0.002)
        ctx.cancel()

    threading.Thread(target=cancel_soon, daemon=True).start()
    with pytest.raises(Cancelled):
        plugin.run(_request(base, steps=50, count=4), ctx)
