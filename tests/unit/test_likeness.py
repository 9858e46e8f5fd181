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


def test_copying_is_caught_reframed_or_mirrored_and_a_new_photo_is_not(evaluator, pictures, tmp_path):
    from tests.calibration_faces import FACES

    def prints(path):
        return thumbprint(path, evaluator.read_one(path))

    training = [prints(FACES / "obama_1.jpg"), prints(pictures["portrait"]), prints(pictures["grace"])]
    copy = tmp_path / "copy.jpg"
    Image.open(pictures["grace"]).resize((300, 351)).save(copy, quality=70)  # resized and recompressed
    assert copied_photo(prints(copy), training) == 2
    for reframed in ("closer", "mirrored", "darker", "tilted"):  # the astronaut portrait, re-framed or edited
        assert copied_photo(prints(pictures[reframed]), training) == 1, reframed
    square = tmp_path / "square.png"
    Image.open(FACES / "obama_1.jpg").crop((180, 40, 450, 310)).resize((512, 512)).save(square)
    assert copied_photo(prints(square), training) == 0  # a square crop around the face
    for honest in (FACES / "obama_2.jpg", FACES / "obama_3.jpg", FACES / "biden_1.jpg", pictures["coffee"]):
        assert copied_photo(prints(honest), training) is None, honest.name  # a new photo, someone, no one


def test_collapse_is_edits_of_one_picture_and_not_different_photos(evaluator, pictures):
    from tests.calibration_faces import FACES

    edits = [
        evaluator.read_one(pictures[n]).embedding
        for n in ("portrait", "mirrored", "closer", "darker", "tilted")
    ]
    different = [evaluator.read_one(FACES / f"obama_{i}.jpg").embedding for i in (1, 2, 3)]
    assert is_collapsed(edits)
    assert not is_collapsed(different)
    assert not is_collapsed(edits[:2])  # too few faces to say


def _summary(step, score, copies=None, found=True, faces=None):
    count = 4 if faces is None else faces
    probes = [ProbeScore("p", found, score if found else None, copies_photo=copies)] * count
    if faces is not None:
        probes += [ProbeScore("p", False)] * (5 - faces)
    return summarise(step, probes, collapsed=False)


def test_the_best_checkpoint_is_the_most_alike_one_before_copying_starts():
    steps = [_summary(250, 40), _summary(500, 62), _summary(750, 78), _summary(1000, 81, copies=3)]
    best, reason = best_checkpoint(steps, "Ada")
    assert best.step == 750
    assert reason == (
        "step 750: looks most like Ada (78/100 — looks like them; 4 of 4 probes show a face) without copying "
        "Ada's photos; step 1,000 starts copying photo #4."
    )
    tie, _ = best_checkpoint([_summary(500, 70), _summary(750, 70)], "Ada")
    assert tie.step == 500  # ties go to the earlier step
    none, why = best_checkpoint([_summary(250, None, found=False)], "Ada")
    assert none is None and "No face was found in any probe picture" in why


def test_faces_count_one_face_in_five_never_beats_five_of_five():
    one_face = _summary(500, 90, faces=1)  # a single striking face, four probes without one
    all_faces = _summary(750, 70, faces=5)
    assert one_face.score == 0 and all_faces.score == 70  # a missing face scores 0 in the median
    best, reason = best_checkpoint([one_face, all_faces], "Ada")
    assert best.step == 750 and "5 of 5 probes show a face" in reason
    four = _summary(1000, 80, faces=4)
    assert four.score == 80 and best_checkpoint([all_faces, four], "Ada")[0].step == 1000
    none, why = best_checkpoint([_summary(500, 90, faces=1), _summary(750, 88, faces=2)], "Ada")
    assert none is None
    assert why == (
        "Too few probe pictures show a face to judge the likeness (at most 2 of 5 probes show a face), "
        "so no checkpoint is recommended."
    )


def test_a_pick_near_the_mark_says_so():
    _, reason = best_checkpoint([_summary(500, 59)], "Ada")
    assert "59/100 — looks like them" in reason and "only 9 points above the same-person mark of 50" in reason
    _, close = best_checkpoint([_summary(500, 92)], "Ada")
    assert "very close: check it is not copying a photo" in close


def test_a_look_alike_is_an_odd_one_out_relative_to_its_set_even_above_the_mark():
    """Crafted embeddings: five photos of one person (likeness ~80 to each other) and a look-alike at 55."""
    rng = np.random.default_rng(0)
    centre = np.zeros(128)

    def at(distance):
        direction = rng.normal(size=128)
        return centre + distance * direction / np.linalg.norm(direction)

    photos = [at(0.17) for _ in range(5)] + [at(0.52)]
    reference = reference_identity(photos)
    scores = reference.leave_one_out
    assert scores[-1] >= 50 and scores[-1] < min(scores[:-1]) - 10  # above the mark, far below the set
    odd = reference.odd_ones()
    assert [o.index for o in odd] == [5]
    assert "it may be a look-alike" in odd[0].sentence
    assert reference_identity(photos[:2] + photos[-1:]).odd_ones() == []  # three faces: too few to say


def test_the_photo_checks_use_the_same_marks(tmp_path):
    from isengard.characters.checks import set_level
    from isengard.characters.report import photo_flags

    rng = np.random.default_rng(1)
    embeddings = [0.17 * v / np.linalg.norm(v) for v in rng.normal(size=(5, 128))]
    embeddings.append(0.52 * np.eye(128)[0])
    found = set_level([(i, {"embedding": list(e)}) for i, e in enumerate(embeddings)])
    assert [pid for pid, m in found.items() if m["odd_one_out"]] == [5]
    flags = photo_flags({**found[5], "faces": 1, "face_frac": 0.2, "sharpness": 100.0}, 1024)
    assert any(f.code == "different_person" and "look-alike" in f.fix for f in flags)


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
