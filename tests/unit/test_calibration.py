"""The likeness marks against their calibration data: real faces the project ships, edits of them (the
re-framed copies a memorising LoRA gives back) and different photos of the same and of other people.
`tests/fixtures/faces/calibration.json` is the recorded table (`python -m tests.calibration_faces`); here
it is checked that every mark separates its two sides, and a part of it is measured again live, through
the production copy rule, so a change of face model or of the alignment cannot pass unnoticed."""

from __future__ import annotations

import json

import pytest

from isengard.evaluation.calibration import (
    BANDS,
    COLLAPSE_SPREAD,
    COPY_APPEARANCE,
    COPY_DISTANCE,
    band,
    in_words,
    margin_note,
    scale_sentence,
)
from tests.calibration_faces import EDITS, RECORD, measure

SAME_PERSON = 0.6  # dlib's


@pytest.fixture(scope="module")
def table():
    return json.loads(RECORD.read_text())


def test_every_edit_is_a_copy_and_every_other_photo_is_not(table):
    edits = [row for row in table["copies"] if row["face"]]
    assert len(edits) == len(table["copies"]) == 6 * len(EDITS)  # a face found in every edit
    for row in edits:
        assert row["distance"] < COPY_DISTANCE * SAME_PERSON, row
        assert row["correlation"] >= COPY_APPEARANCE, row
    others = table["different_photos"]
    assert sum(row["same_person"] for row in others) == 3  # the three Obama photos, pairwise
    for row in others:
        assert row["distance"] >= COPY_DISTANCE * SAME_PERSON or row["correlation"] < COPY_APPEARANCE, row
        assert row["correlation"] < COPY_APPEARANCE, row  # the appearance alone tells them apart
        assert row["distance"] >= COPY_DISTANCE * SAME_PERSON, row  # and so does the identity alone


def test_the_copy_marks_keep_a_margin_on_both_sides(table):
    edits = [row for row in table["copies"] if row["face"]]
    worst_edit = max(row["distance"] for row in edits)
    nearest_photo = min(row["distance"] for row in table["different_photos"])
    assert worst_edit + 0.03 < COPY_DISTANCE * SAME_PERSON < nearest_photo - 0.03
    least_alike_edit = min(row["correlation"] for row in edits)
    most_alike_photo = max(row["correlation"] for row in table["different_photos"])
    assert most_alike_photo + 0.15 < COPY_APPEARANCE < least_alike_edit - 0.15


def test_collapse_sits_between_edits_of_one_picture_and_different_photos(table):
    worst = max(table["collapse_spread_of_five_edits"].values())
    honest = table["spread_of_different_photos_of_one_person"]
    assert worst + 0.05 < COLLAPSE_SPREAD * SAME_PERSON < honest - 0.05


@pytest.mark.slow
def test_the_recorded_calibration_still_holds_measured_again(table, tmp_path):
    """Four of the edits for every person, measured now: the same numbers as recorded (within what
    another processor may round differently), and the production rule calls each a copy."""
    from isengard.evaluation.copying import copied_photo, thumbprint
    from plugins.evaluation.dlib_faces import DlibEvaluator
    from tests.calibration_faces import people, read

    chosen = {k: EDITS[k] for k in ("crop 10 %", "square around the face", "mirror + crop 10 %", "JPEG 40")}
    live = measure(tmp_path / "live", chosen)
    recorded = {(r["person"], r["edit"]): r for r in table["copies"]}
    for row in live["copies"]:
        before = recorded[(row["person"], row["edit"])]
        assert row["distance"] == pytest.approx(before["distance"], abs=0.02), row
        assert row["correlation"] == pytest.approx(before["correlation"], abs=0.03), row
    evaluator = DlibEvaluator()
    faces = people()
    training = [read(evaluator, faces[n], tmp_path, f"t-{n}")[1] for n in ("obama_1", "astronaut", "biden_1")]
    for index, name in enumerate(("obama_1", "astronaut", "biden_1")):
        for edit in chosen:
            reading = evaluator.read_one(tmp_path / "live" / f"{name} {edit}.png")
            probe = thumbprint(tmp_path / "live" / f"{name} {edit}.png", reading)
            assert copied_photo(probe, training) == index, (name, edit)
    for honest in ("obama_2", "obama_3", "grace_hopper"):  # a new photo of a training person, someone else
        reading, probe = read(evaluator, faces[honest], tmp_path, f"h-{honest}")
        assert copied_photo(probe, training) is None, honest


def test_the_scale_reads_in_words():
    assert [b.words for b in BANDS] == [
        "not them",
        "some resemblance",
        "looks like them",
        "very close: check it is not copying a photo",
    ]
    assert band(30).words == "not them" and band(50).words == "some resemblance"
    assert band(73).words == "looks like them" and band(92).words.startswith("very close")
    assert in_words(73.4) == "73/100 — looks like them" and in_words(None) == "no face found"
    assert margin_note(59) == "only 9 points above the same-person mark of 50"
    assert margin_note(49) == "1 point below the same-person mark of 50"
    assert margin_note(72) == ""
    assert "copy" in margin_note(91)
    assert "Higher is not always better" in scale_sentence()
