"""Removing photos can be undone exactly; auto-crop says what it switched and can be undone; the
readiness suggestions name their photos."""

from __future__ import annotations

import pytest

from isengard.errors import InputError
from tests import photos


@pytest.fixture
def ada(app_ctx, tmp_path):
    ctx = app_ctx
    character = ctx.characters.create("Ada", "adlvzx", "woman")
    files = photos.good_set(tmp_path / "in")
    ctx.characters.add_photos(character.id, [(p, p.name) for p in files])
    assert ctx.runner.wait(ctx.characters.submit_checks(character.id), timeout=120).status == "succeeded"
    return ctx, character


def test_remove_then_undo_puts_everything_back(ada):
    ctx, character = ada
    svc = ctx.characters
    before = {p.id: (p.caption, p.path.read_bytes()) for p in svc.photos(character.id)}
    chosen = list(before)[:2]
    svc.set_caption(chosen[0], "smiling in a garden")
    before[chosen[0]] = (svc.photo(chosen[0]).caption, before[chosen[0]][1])
    token = svc.remove_photos(chosen)
    left = svc.photos(character.id)
    assert [p.id for p in left] == list(before)[2:]
    assert not any((svc.folder_of(character.id) / f"{i}").exists() for i in chosen)
    assert svc.undo_remove(token) == 2
    after = {p.id: (p.caption, p.path.read_bytes()) for p in svc.photos(character.id)}
    assert after == before  # same ids, captions and bytes
    with pytest.raises(InputError, match="no longer"):
        svc.undo_remove(token)  # undone once


def test_suggestions_name_their_photos(ada):
    ctx, character = ada
    state, reports = ctx.characters.report(character.id)
    duplicate = next(s for s in state.suggestions if s.code == "near_duplicate")
    assert duplicate.removable and len(duplicate.photo_ids) == 1
    flagged = [pid for pid, r in reports.items() if any(f.code == "near_duplicate" for f in r.flags)]
    assert duplicate.photo_ids == flagged
    assert not any(
        s.code == "low_res" for s in state.suggestions
    )  # 512 px for a 1024 px model: not noise-worthy
    count = next(s for s in state.suggestions if s.code == "count")
    assert not count.removable and count.photo_ids == []


def test_autocrop_says_what_it_switched_and_undo_restores_the_originals(ada):
    ctx, character = ada
    job = ctx.runner.wait(ctx.characters.submit_autocrop(character.id), timeout=120)
    switched = job.result["switched"]
    assert switched and all(ctx.characters.photo(i).use_crop for i in switched)
    assert ctx.characters.undo_autocrop(switched) == len(switched)
    assert not any(ctx.characters.photo(i).use_crop for i in switched)
    assert all(ctx.characters.photo(i).crop_path.exists() for i in switched)  # the crops stay for later


def test_thumbnails_wear_a_ring_of_their_state(ada, tmp_path):
    from PIL import Image

    from isengard.ui.character_views import RING, ringed_thumbnail

    ctx, character = ada
    _, reports = ctx.characters.report(character.id)
    colours = {}
    for photo in ctx.characters.photos(character.id):
        path = ringed_thumbnail(photo, reports[photo.id], tmp_path / "thumbs")
        with Image.open(path) as thumb:
            colours[photo.original_name] = thumb.getpixel((2, thumb.height // 2))
        assert ringed_thumbnail(photo, reports[photo.id], tmp_path / "thumbs") == path  # made once

    def near(a, b):
        return all(abs(x - y) < 40 for x, y in zip(a, b, strict=True))

    assert near(colours["portrait.jpg"], RING["ok"])
    assert near(colours["warmer.webp"], RING["warn"])  # the near-duplicate
