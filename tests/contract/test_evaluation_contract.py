"""Contract: every evaluator reads one face per picture, in order — a face where there is one (with an
embedding its own distance compares and a pose), none on a picture without a face, never an exception —
and states its same-person distance and its models' licence."""

from __future__ import annotations

import numpy as np
from PIL import Image

from plugins.base import Availability
from plugins.evaluation.interface import Evaluator, FaceReading
from tests.contract.plugins_under_test import factories
from tests.photos import astronaut

CASES = factories("evaluation")


def test_every_evaluator_fulfils_the_contract(tmp_path, tiny_models):
    assert CASES, "no evaluator is under test"
    face = tmp_path / "face.png"
    astronaut().save(face)
    flipped = tmp_path / "flipped.png"
    Image.open(face).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped)
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(noise)
    for name, factory in CASES:
        plugin, _ = factory(tmp_path, tiny_models)
        assert isinstance(plugin, Evaluator), name
        assert isinstance(plugin.availability(), Availability)
        assert plugin.same_person_distance > 0 and plugin.model_licence, name
        readings = plugin.read([face, noise, flipped])
        assert len(readings) == 3 and all(isinstance(r, FaceReading) for r in readings), name
        real, none, mirrored = readings
        assert real.found and real.embedding is not None and real.box and real.yaw is not None, name
        assert not none.found and none.embedding is None, name
        assert plugin.distance(real.embedding, mirrored.embedding) < plugin.same_person_distance, name
        assert abs(plugin.distance(real.embedding, real.embedding)) < 1e-9, name
        assert set(real.to_dict()) == {"found", "box", "yaw", "pitch"}, name
