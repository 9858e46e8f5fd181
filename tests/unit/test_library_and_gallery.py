"""The LoRA library (human names, rename, notes, delete with what it removes, the model card and its zip)
and the picture gallery (favourites, filter, delete, zip) on a fast-test studio."""

from __future__ import annotations

import zipfile

import pytest

from isengard.errors import InputError
from isengard.generation.service import GenerateForm
from tests import photos


@pytest.fixture
def trained(app_ctx, tmp_path):
    ctx = app_ctx
    character = ctx.characters.create("Ada Lovelace", "adlvzx", "woman")
    ctx.characters.add_photos(character.id, [(p, p.name) for p in photos.good_set(tmp_path / "in")])
    job_id = ctx.training.submit(
        character.id, base_model="flux-dev", overrides={"steps": 40, "save_every": 20, "sample_every": 20}
    )
    job = ctx.runner.wait(job_id, timeout=60)
    assert job.status == "succeeded", job.error
    return ctx, character, ctx.loras.get(int(job.result["lora_id"]))


def test_a_finished_lora_reads_as_a_person_a_date_its_steps_and_family(trained):
    ctx, character, record = trained
    label = ctx.library.label(record)
    assert label.startswith("Ada Lovelace — ")
    assert "40 steps" in label and "FLUX.1" in label
    checkpoints = ctx.library.checkpoints(record)
    assert [c.step for c in checkpoints] == [20]  # folded under the LoRA, not beside it
    assert "checkpoint at step 20" in ctx.library.label(checkpoints[0])
    assert [r.id for r in ctx.library.finished(character.id)] == [record.id]


def test_rename_and_notes_are_kept_and_checked(trained):
    ctx, _, record = trained
    renamed = ctx.library.rename(record.id, "  Ada, soft light  ")
    assert ctx.library.label(renamed).startswith("Ada, soft light — ")
    assert (
        ctx.library.set_notes(record.id, "best at strength 0.9").metadata["notes"] == "best at strength 0.9"
    )
    with pytest.raises(InputError, match="name"):
        ctx.library.rename(record.id, "   ")
    with pytest.raises(InputError, match="under 80"):
        ctx.library.rename(record.id, "x" * 81)
    assert record.path.name == ctx.loras.get(record.id).path.name  # the file itself keeps its name


def test_delete_says_what_goes_and_removes_the_checkpoints_too(trained):
    ctx, _, record = trained
    plan = ctx.library.delete_plan(record.id)
    assert len(plan.files) == 2 and "and its 1 checkpoint" in plan.sentence()
    ctx.library.delete(record.id)
    assert all(not f.exists() for f in plan.files)
    with pytest.raises(InputError):
        ctx.loras.get(record.id)


def test_the_model_card_and_its_zip(trained, tmp_path):
    ctx, _, record = trained
    ctx.library.set_notes(record.id, "made for the family album")
    card = ctx.library.model_card(record.id)
    assert "instance_prompt: adlvzx" in card
    assert "`adlvzx`" in card and "FLUX.1 [dev]" in card
    assert "Licence of the base model:** FLUX.1 [dev] Non-Commercial · no commercial use" in card
    assert "40 steps" in card and "made for the family album" in card
    bundle = ctx.library.bundle(record.id, tmp_path / "out")
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        readme = archive.read(next(n for n in names if n.endswith("README.md"))).decode()
    assert any(n.endswith(record.path.name) for n in names)
    samples = [n for n in names if "/samples/" in n]
    assert samples and all(f"samples/{n.rsplit('/', 1)[-1]}" in readme for n in samples)


def test_gallery_favourites_filter_delete_and_zip(trained, tmp_path):
    ctx, character, _ = trained
    for form in (
        GenerateForm(prompt="adlvzx in a garden", count=2, character_id=character.id, steps=2),
        GenerateForm(prompt="a lighthouse", count=1, steps=2),
    ):
        assert ctx.runner.wait(ctx.generation.submit(form)[0], timeout=60).status == "succeeded"
    everything = ctx.gallery.pictures()
    assert len(everything) == 3 and everything[0].prompt == "a lighthouse"  # newest first
    hers = ctx.gallery.pictures(character_id=character.id)
    assert len(hers) == 2
    ctx.gallery.set_favourite(hers[0].path, True)
    assert [p.path for p in ctx.gallery.pictures(favourites=True)] == [hers[0].path]
    archive = ctx.gallery.zip(hers, tmp_path / "zips")
    with zipfile.ZipFile(archive) as opened:
        assert len(opened.namelist()) == 2
    ctx.gallery.delete(hers[1].path)
    assert not hers[1].path.exists()
    assert len(ctx.gallery.pictures(character_id=character.id)) == 1
    with pytest.raises(InputError):
        ctx.gallery.delete(hers[1].path)
    with pytest.raises(InputError, match="no pictures"):
        ctx.gallery.zip([], tmp_path / "zips")


def test_no_line_says_the_same_word_twice(trained):
    """'Licence of the base model: Licence: …' and 'Ready to train · Ready to train: …' read as bugs."""
    from dataclasses import replace

    from isengard.characters.report import readiness
    from isengard.ui.character_views import readiness_card

    ctx, _, record = trained
    unknown = replace(ctx.catalogue.get(record.base_model), commercial=None, licence="")
    ctx.catalogue.add(unknown)  # the same base, its licence not stated
    card = ctx.library.model_card(record.id)
    assert "Licence of the base model:** see the model's own page" in card and "Licence: " not in card
    photos = {
        i: {"faces": 1, "face_frac": 0.2, "sharpness": 100.0, "width": 1024, "height": 1024}
        for i in range(12)
    }
    state, _ = readiness(photos)
    shown = readiness_card(state)
    assert state.status == "ready" and shown.count("Ready to train") == 1
