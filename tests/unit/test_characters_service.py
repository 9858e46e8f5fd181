"""The characters service on real photos: batches with bad files, checks, captions, crops, deletion."""

from __future__ import annotations

import pytest
from PIL import Image

from isengard.errors import InputError
from tests import photos


@pytest.fixture
def svc(app_ctx):
    return app_ctx.characters


def _files(paths):
    return [(p, p.name) for p in paths]


def test_create_rename_trigger_and_duplicates(svc):
    alice = svc.create("Alice Smith", class_word="woman")
    assert alice.trigger_word == "alcszx" and alice.class_word == "woman"
    with pytest.raises(InputError, match="already a character called"):
        svc.create("ALICE smith")
    with pytest.raises(InputError, match="already used by another character"):
        svc.create("Bob", trigger="alcszx")
    assert svc.create("Alice Smyth").trigger_word == "alcsxq"  # suggestion avoids the taken word
    assert svc.rename(alice.id, "Alice S.").name == "Alice S."
    assert svc.get("alice s.").id == alice.id and svc.get(alice.id).name == "Alice S."
    with pytest.raises(InputError, match="There is no character"):
        svc.get("nobody")


def test_batch_keeps_good_files_and_lists_every_rejection(svc, tmp_path):
    character = svc.create("Neil")
    good = photos.good_set(tmp_path / "good")
    bad = photos.bad_files(tmp_path / "bad")
    files = _files(good) + _files(bad.values()) + [(good[0], "../../x.png")]
    result = svc.add_photos(character.id, files)
    assert len(result.added) == 4
    assert result.duplicates == ["x.png"]  # same bytes as portrait.jpg, name stripped of its path
    reasons = dict(result.rejected)
    assert set(reasons) == {p.name for p in bad.values()}
    assert "not an image" in reasons["notes.jpg"] and "animated" in reasons["animated.gif"]
    folder = svc.folder_of(character.id)
    stored = sorted(p.name for p in folder.iterdir() if p.name != "character.json")
    assert len(stored) == 8  # 4 photos + 4 caption files: nothing partial from the rejected ones
    assert all(len(p.split(".")[0]) == 16 for p in stored)
    for photo in svc.photos(character.id):
        assert photo.caption == f"a photo of {character.trigger_word}, a person"
        assert photo.path.with_suffix(".txt").read_text().strip() == photo.caption
    again = svc.add_photos(character.id, _files(good[:1]))
    assert again.added == [] and again.duplicates == ["portrait.jpg"]


def test_checks_flag_what_is_wrong(app_ctx, svc, tmp_path):
    character = svc.create("Eileen")
    paths = photos.good_set(tmp_path / "good")
    extra = tmp_path / "extra"
    extra.mkdir()
    photos.grace_hopper().save(extra / "someone_else.jpg")
    photos.cat().save(extra / "cat.jpg")
    photos.blurred(extra / "blurry.jpg")
    svc.add_photos(character.id, _files(paths) + _files(sorted(extra.iterdir())))
    state, _ = svc.report(character.id)
    assert state.unchecked_count == 7
    job = app_ctx.runner.wait(svc.submit_checks(character.id), timeout=120)
    assert job.status == "succeeded", job.error
    by_name = {p.original_name: p for p in svc.photos(character.id)}
    state, reports = svc.report(character.id)
    codes = {name: {f.code for f in reports[p.id].flags} for name, p in by_name.items()}
    for name in ("portrait.jpg", "mirrored.jpg", "closer.png", "warmer.webp"):
        assert by_name[name].checks["faces"] == 1, name
        assert by_name[name].checks["identity_distance"] < 0.35, name
        assert not codes[name] & {"different_person", "no_face", "blurry"}, (name, codes[name])
    assert "different_person" in codes["someone_else.jpg"]
    assert "no_face" in codes["cat.jpg"]
    assert {"blurry", "near_duplicate"} <= codes["blurry.jpg"]
    assert state.status == "needs_attention" and state.photo_count == 7
    assert any("10–30" in fix for fix in state.fixes)
    assert any("someone else" in fix for fix in state.fixes)
    events = app_ctx.runner.events(job.id, type_="progress")
    assert max(e.data.get("step", 0) for e in events) == 7


def test_captions_edit_keeps_the_trigger_and_trigger_change_updates_them(svc, tmp_path):
    character = svc.create("Cap")
    svc.add_photos(character.id, _files(photos.good_set(tmp_path)[:2]))
    first = svc.photos(character.id)[0]
    edited, note = svc.set_caption(first.id, "smiling in a space suit")
    assert edited.caption == f"{character.trigger_word}, smiling in a space suit" and "was added" in note
    assert edited.caption_source == "user"
    with pytest.raises(InputError, match="can't be empty"):
        svc.set_caption(first.id, "   ")
    changed = svc.set_trigger(character.id, "capqzv")
    captions = [p.caption for p in svc.photos(changed.id)]
    assert all("capqzv" in c and character.trigger_word not in c for c in captions)
    assert svc.photos(changed.id)[0].path.with_suffix(".txt").read_text().startswith("capqzv, smiling")


def test_caption_all_job_keeps_hand_edits(app_ctx, svc, tmp_path):
    character = svc.create("Templ")
    svc.add_photos(character.id, _files(photos.good_set(tmp_path)[:3]))
    first = svc.photos(character.id)[0]
    svc.set_caption(first.id, f"{character.trigger_word} in orange")
    job_id = svc.submit_captions(character.id, captioner="template", template="portrait of {trigger}")
    job = app_ctx.runner.wait(job_id, timeout=30)
    assert job.status == "succeeded" and job.result == {"captioned": 2, "skipped_edited": 1}
    captions = [p.caption for p in svc.photos(character.id)]
    assert captions == [f"{character.trigger_word} in orange"] + [f"portrait of {character.trigger_word}"] * 2
    with pytest.raises(InputError, match="no captioner called"):
        svc.submit_captions(character.id, captioner="nope")


def test_blip_is_unavailable_in_fast_test_mode_with_a_reason(svc):
    character = svc.create("NoBlip")
    from isengard.errors import NotAvailableError

    with pytest.raises(InputError, match="no photos"):
        svc.submit_captions(character.id, captioner="blip")
    assert not svc.captioner("blip").availability().ok
    assert "template captioner" in svc.captioner("blip").availability().reason
    assert issubclass(NotAvailableError, Exception)


def test_autocrop_keeps_the_original(app_ctx, svc, tmp_path):
    character = svc.create("Crop")
    big = tmp_path / "wide.jpg"
    canvas = Image.new("RGB", (1600, 900), (30, 30, 30))
    canvas.paste(photos.astronaut(), (900, 200))
    canvas.save(big)
    svc.add_photos(character.id, [(big, "wide.jpg")])
    app_ctx.runner.wait(svc.submit_checks(character.id), timeout=60)
    job = app_ctx.runner.wait(svc.submit_autocrop(character.id), timeout=60)
    photo = svc.photos(character.id)[0]
    assert job.result == {"cropped": 1, "skipped": 0, "switched": [photo.id]}
    assert photo.use_crop and photo.crop_path.exists() and photo.path.exists()
    with Image.open(photo.crop_path) as crop:
        assert crop.width == crop.height and crop.width < 900
    assert svc.dataset(character.id)[0].image == photo.crop_path
    assert svc.set_use_crop(photo.id, False).training_path == photo.path


def test_delete_needs_nothing_left_behind(svc, tmp_path):
    character = svc.create("Gone")
    svc.add_photos(character.id, _files(photos.good_set(tmp_path)[:2]))
    plan = svc.delete_plan(character.id)
    assert plan["photos"] == 2 and plan["photo_bytes"] > 0
    svc.delete(character.id)
    assert not svc.folder_of(character.id).exists()
    assert svc.db.one("SELECT count(*) FROM photos")[0] == 0
    with pytest.raises(InputError):
        svc.get(character.id)
