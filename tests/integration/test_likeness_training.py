"""Likeness while training, end to end through the job runner. Test doubles (in tests/): a mock trainer
drawing scripted probe rounds — someone else, then rising likeness with honest variety, then a copy of a
training photo — and a scripted face model reading them (`tests/likeness_double.py` says why it must be
scripted): the recommendation is the step before the copy, with its reason, stored with the LoRA. On the
tiny models (noise pictures) "no face found" is said plainly and the training still finishes."""

from __future__ import annotations

from pathlib import Path

import pytest

from isengard.evaluation.watch import load_summaries, report
from tests import photos
from tests.helpers import install_tiny, make_settings
from tests.likeness_double import (
    RISING,
    FaceImageBackend,
    ScriptedTrainer,
    character_photos,
    use_scripted_faces,
)


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    from isengard.context import bootstrap

    context = bootstrap(make_settings(tmp_path), console=False)
    use_scripted_faces(context.registry, monkeypatch)
    yield context
    context.close()


def _character(ctx, tmp_path) -> list[Path]:
    good = character_photos(tmp_path / "ada")
    ctx.characters.create("Ada")
    ctx.characters.add_photos("Ada", [(p, p.name) for p in good])
    return good


def test_the_recommendation_is_the_most_alike_step_before_copying_starts(ctx, tmp_path):
    _character(ctx, tmp_path)
    ctx.registry.register(ScriptedTrainer(RISING))
    job_id = ctx.training.submit(
        "Ada",
        base_model="flux-dev",
        backend="scripted-likeness",
        overrides={"steps": 20, "save_every": 5, "sample_every": 5, "max_checkpoints": 8},
    )
    job = ctx.runner.wait(job_id, timeout=120)
    assert job.status == "succeeded", job.error
    rec = job.result["recommendation"]
    assert rec["step"] == 15 and rec["file"].endswith("_000000015.safetensors")
    assert rec["photos_unlike_the_rest"] == [] and rec["band"] == "looks like them"
    assert rec["reason"] == (
        "step 15: looks most like Ada (76/100 — looks like them; 5 of 5 probes show a face) without copying "
        "Ada's photos; step 20 starts copying photo #1."
    )
    summaries = {s.step: s for s in load_summaries(ctx.runner.db, job_id)}
    assert summaries[5].score < 50 < summaries[10].score < summaries[15].score
    assert summaries[20].copying and not summaries[15].copying and not summaries[15].collapsed
    stored = ctx.loras.get(job.result["lora_id"]).metadata["recommendation"]
    assert stored["step"] == 15
    live = [e.data["likeness"] for e in ctx.runner.events(job_id, type_="progress") if "likeness" in e.data]
    assert [x["step"] for x in live] == [5, 10, 15, 20] and live[-1]["copying"] is True
    assert live[2]["band"] == "looks like them" and live[2]["faces"] == "5 of 5 probes show a face"
    # Image Gen with the character uses the recommended checkpoint, and says why
    from isengard.generation.service import GenerateForm

    character_id = ctx.characters.get("Ada").id
    gen_id, prepared = ctx.generation.submit(GenerateForm(prompt="portrait", character_id=character_id))
    assert [str(Path(e["path"]).resolve()) for e in prepared.form.loras] == [str(Path(rec["file"]).resolve())]
    assert any(
        n.startswith("Using the recommended checkpoint: step 15: looks most like Ada") for n in prepared.notes
    )
    made = ctx.runner.wait(gen_id, 60)
    assert made.status == "succeeded"
    assert made.result["images"][0]["likeness"] == {"face": False, "likeness": None}  # a placeholder picture
    exported = report(ctx.runner.db, job_id)
    assert [s["step"] for s in exported["steps"]] == [5, 10, 15, 20]
    assert exported["steps"][0]["probes"][0]["found"] is True and exported["steps"][0]["band"] == "not them"
    assert "Higher is not always better" in exported["scale"]


def test_evaluate_scores_every_file_of_a_lora_through_an_image_backend(ctx, tmp_path):
    """`evaluate` for a LoRA trained elsewhere: the probes are drawn through an image backend (a double
    drawing the scripted rounds per file) and the best file is recommended."""
    good = _character(ctx, tmp_path)
    job = ctx.runner.wait(
        ctx.training.submit(
            "Ada",
            base_model="flux-dev",
            overrides={"steps": 20, "save_every": 5, "sample_every": 0, "max_checkpoints": 8},
        ),
        timeout=120,
    )
    assert job.status == "succeeded", job.error
    ctx.registry.register(FaceImageBackend(RISING, final_step=20, photo=good[0], folder=tmp_path / "drawn"))
    evaluation = ctx.runner.wait(ctx.evaluation.submit("Ada", everything=True, backend="faces"), timeout=120)
    assert evaluation.status == "succeeded", evaluation.error
    result = evaluation.result
    assert [f["step"] for f in result["files"]] == [5, 10, 15, 20]
    assert result["files"][0]["likeness"] < 50 and result["files"][3]["copying"] is True
    assert result["recommendation"]["step"] == 15 and result["recommendation"]["file"].endswith(
        "_000000015.safetensors"
    )
    probes = sorted((ctx.paths.training_run_dir(evaluation.id) / "probes").glob("*.png"))
    assert len(probes) == 20  # five framings for each of the four files
    assert ctx.generation.history() == []  # probes never clutter the picture history


def test_pictures_made_anywhere_are_scored_with_the_same_report(ctx, tmp_path):
    from tests.likeness_double import face, honest, write_picture

    good = _character(ctx, tmp_path)
    folder = tmp_path / "from-comfyui"
    for index, spec in enumerate(honest(74, 70, None)):
        write_picture(folder / f"made{index}.png", spec, seed=500 + index)
    (folder / "notes.txt").write_text("not a picture")  # skipped: folders are searched for pictures only
    copy = tmp_path / "phone.png"
    copy.write_bytes(good[1].read_bytes())
    job = ctx.runner.wait(ctx.evaluation.submit_pictures("Ada", [folder, copy]), timeout=60)
    assert job.status == "succeeded", job.error
    result = job.result
    rows = {row["name"]: row for row in result["rows"]}
    assert (
        rows["made0.png"]["likeness"] == pytest.approx(74, abs=1)
        and rows["made0.png"]["band"] == "looks like them"
    )
    assert rows["made2.png"]["face"] is False and rows["made2.png"]["band"] == "no face found"
    assert rows["phone.png"]["copies_photo"] == good[1].name
    assert result["faces"] == 3 and result["pictures"] == 4 and result["copies"] == 1
    assert result["summary"].startswith("3 of 4 pictures show a face; typical likeness ")
    collapsed = tmp_path / "collapsed"
    for index in range(4):
        write_picture(collapsed / f"same{index}.png", face(80, 3), seed=600 + index)
    job = ctx.runner.wait(ctx.evaluation.submit_pictures("Ada", [collapsed]), timeout=60)
    assert job.result["collapsed"] is True and "collapse" in job.result["summary"]
    from isengard.errors import InputError

    with pytest.raises(InputError, match=r"There is no file or folder 'gone\.png'"):
        ctx.evaluation.submit_pictures("Ada", [tmp_path / "gone.png"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="No pictures were given"):
        ctx.evaluation.submit_pictures("Ada", [tmp_path / "empty"])


@pytest.mark.slow
def test_noise_probes_say_no_face_was_found_and_the_training_finishes(tmp_path, tiny_models):
    from isengard.context import bootstrap

    settings = make_settings(tmp_path, mode="production")
    install_tiny(settings.data_dir, "sd15", tiny_models)
    context = bootstrap(settings, console=False)
    try:
        good = photos.good_set(tmp_path / "ada")
        context.characters.create("Ada")
        context.characters.add_photos("Ada", [(p, p.name) for p in good])
        job_id = context.training.submit(
            "Ada",
            base_model="tiny-sd15",
            backend="diffusers",
            preset="tiny-cpu",
            overrides={"steps": 4, "save_every": 2, "sample_every": 2, "sample_steps": 2},
        )
        job = context.runner.wait(job_id, timeout=300)
        assert job.status == "succeeded", job.error
        rec = job.result["recommendation"]
        assert rec["step"] is None and rec["file"] is None
        assert (
            rec["reason"]
            == "No face was found in any probe picture, so how much they look like Ada is unknown."
        )
        summaries = load_summaries(context.runner.db, job_id)
        assert [s.step for s in summaries] == [0, 2, 4]  # the base before training, then each sample point
        assert all(s.face_share == 0 and s.score is None for s in summaries)
        assert len(summaries[0].probes) == 5  # the five framings
    finally:
        context.close()
