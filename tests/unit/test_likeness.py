"""The likeness measure on real faces that ship in packages (skimage's astronaut, matplotlib's Grace
Hopper, skimage's coffee cup), the copying and collapse detectors on constructed cases, and the
best-checkpoint rule."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from isengard.evaluation import (
    ProbeScore,
    best_checkpoint,
    copied_photo,
    is_collapsed,
    likeness,
    reference_identity,
    summarise,
    thumbprint,
)
from plugins.evaluation.dlib_faces import DlibEvaluator
from tests.photos import astronaut, grace_hopper


@pytest.fixture(scope="module")
def evaluator():
    return DlibEvaluator()


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    from skimage import data

    folder = tmp_path_factory.mktemp("faces")
    a = astronaut()
    images = {
        "portrait": a,
        "mirrored": ImageOps.mirror(a),
        "closer": a.crop((100, 20, 360, 280)).resize((512, 512)),
        "darker": ImageEnhance.Brightness(a).enhance(0.6),
        "tilted": a.rotate(10),
        "grace": grace_hopper(),
        "coffee": Image.fromarray(data.coffee()),
    }
    paths = {}
    for name, image in images.items():
        paths[name] = folder / f"{name}.png"
        image.save(paths[name])
    return paths


def test_the_scale_marks_the_same_person_distance_at_50():
    assert likeness(0.0) == 100 and likeness(0.6) == 50 and likeness(1.2) == 0 and likeness(3.0) == 0
    assert likeness(0.3, same_person=0.3) == 50  # another face model's threshold maps to the same mark


def test_the_astronaut_scores_high_grace_hopper_below_the_mark_and_coffee_has_no_face(evaluator, pictures):
    readings = {name: evaluator.read_one(path) for name, path in pictures.items()}
    reference = reference_identity(
        [readings[n].embedding for n in ("portrait", "mirrored", "darker", "tilted")]
    )
    assert readings["closer"].found and reference.score(readings["closer"].embedding) >= 75
    assert reference.score(readings["grace"].embedding) < 50
    assert not readings["coffee"].found and readings["coffee"].embedding is None
    # yaw mirrors with the picture; the frontal portrait is within ±15°
    assert abs(readings["portrait"].yaw) < 15
    assert np.sign(readings["portrait"].yaw) == -np.sign(readings["mirrored"].yaw)


def test_leave_one_out_flags_the_photo_of_someone_else(evaluator, pictures):
    names = ["portrait", "mirrored", "darker", "grace", "tilted"]
    embeddings = [evaluator.read_one(pictures[n]).embedding for n in names] + [None]  # a photo without a face
    reference = reference_identity(embeddings)
    assert reference.odd_ones_out() == [names.index("grace")]
    assert reference.leave_one_out[-1] is None
    assert all(score >= 70 for i, score in enumerate(reference.leave_one_out[:-1]) if names[i] != "grace")


def test_copying_is_caught_and_honest_variety_is_not(pictures, tmp_path):
    training = [thumbprint(pictures[n]) for n in ("portrait", "grace")]
    copy = tmp_path / "copy.jpg"
    Image.open(pictures["grace"]).resize((300, 351)).save(copy, quality=70)  # resized and recompressed
    assert copied_photo(thumbprint(copy), training) == 1
    for honest in ("closer", "tilted", "coffee"):
        assert copied_photo(thumbprint(pictures[honest]), training) is None, honest


def test_collapse_is_the_same_face_for_every_prompt(evaluator, pictures):
    same = [evaluator.read_one(pictures["portrait"]).embedding] * 4
    varied = [evaluator.read_one(pictures[n]).embedding for n in ("portrait", "mirrored", "closer", "tilted")]
    assert is_collapsed(same)
    assert not is_collapsed(varied)
    assert not is_collapsed(same[:2])  # too few faces to say


def _summary(step, score, copies=None, found=True):
    probes = [ProbeScore("p", found, score if found else None, copies_photo=copies)] * 4
    return summarise(step, probes, collapsed=False)


def test_the_best_checkpoint_is_the_most_alike_one_before_copying_starts():
    steps = [_summary(250, 40), _summary(500, 62), _summary(750, 78), _summary(1000, 81, copies=3)]
    best, reason = best_checkpoint(steps, "Ada")
    assert best.step == 750
    assert (
        reason
        == "step 750: looks most like Ada (78/100) without copying Ada's photos; step 1,000 starts copying photo #4."
    )
    tie, _ = best_checkpoint([_summary(500, 70), _summary(750, 70)], "Ada")
    assert tie.step == 500  # ties go to the earlier step
    none, why = best_checkpoint([_summary(250, None, found=False)], "Ada")
    assert none is None and "No face was found in any probe picture" in why


def test_pictures_made_with_a_character_get_a_likeness_badge(evaluator, pictures, tmp_path):
    from isengard.evaluation.badges import badge_text, likeness_badges
    from tests.photos import good_set

    photos = good_set(tmp_path / "ada")
    badges = likeness_badges(evaluator, photos, [pictures["closer"], pictures["grace"], pictures["coffee"]])
    assert badges[0]["face"] and badges[0]["likeness"] >= 75
    assert badges[1]["face"] and badges[1]["likeness"] < 50
    assert badges[2] == {"face": False, "likeness": None}
    assert badge_text(badges[0], "Ada").startswith("looks like Ada: ")
    assert badge_text(badges[2], "Ada") == "no face found"
    assert likeness_badges(evaluator, photos, [tmp_path / "missing.png"]) == [
        {"face": None, "likeness": None}
    ]


def test_the_pose_sentence_says_whether_the_likeness_holds_when_the_head_turns():
    from isengard.evaluation.likeness import pose_sentence

    def probes(*rows):
        return summarise(500, [ProbeScore("p", True, score, yaw) for score, yaw in rows], collapsed=False)

    assert "holds" in pose_sentence(probes((80, 2), (78, -5), (74, 35)))
    assert "drops" in pose_sentence(probes((80, 2), (78, -5), (40, 35)))
    assert "not known yet" in pose_sentence(probes((80, 2), (78, -5)))
