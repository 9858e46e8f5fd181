"""Every bad input gets one plain sentence, loses nothing, and leaves the studio answering."""

from __future__ import annotations

import json
import math

import pytest
from PIL import Image

from tests.faults import corpus
from tests.helpers import child_env, run_cli


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return corpus.build(tmp_path_factory.mktemp("corpus"))


def test_the_corpus_is_big_enough(files):
    assert len(files) >= 30


def test_every_photo_is_stored_as_8_bit_rgb_that_looks_like_it_or_refused_with_a_reason(app_ctx, files):
    svc = app_ctx.characters
    ada = svc.create("Ada")
    result = svc.add_photos(ada.id, [(path, name) for name, (path, _) in files.items()])
    added = {p.original_name: p for p in result.added}
    rejected = dict(result.rejected)
    assert set(added) | set(rejected) | set(result.duplicates) == set(files)  # every file has an outcome
    for name, (_, (outcome, expected)) in files.items():
        if outcome == "ok":
            assert name in added or name in result.duplicates, (name, rejected.get(name))
            if name not in added:
                continue
            with Image.open(added[name].path) as stored:
                assert stored.mode == "RGB", name
                if expected is not None:
                    assert corpus.mean_difference(stored, expected) < 6, name  # the photo as trained
        else:
            assert name in rejected, name
            reason = rejected[name]
            assert expected in reason and "Traceback" not in reason and len(reason) < 240, (name, reason)
    # nothing partial: exactly the stored photos and their captions, plus the manifest
    on_disk = sorted(p.name for p in svc.folder_of(ada.id).iterdir())
    assert len(on_disk) == 2 * len(added) + 1
    assert len(svc.photos(ada.id)) == len(added)
    assert "Zoë 写真 😀.jpg" in added  # unicode file names kept as the person named them


def test_the_cli_given_a_folder_takes_its_photos_and_summarises_each_file(tmp_path, files):
    folder = next(iter(files.values()))[0].parent
    result = run_cli(
        ["character", "create", "Folder Person", "--photos", str(folder), "--no-check"], child_env(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert "not added" in result.stderr and "rejected iphone.heic: this is a HEIC" in result.stderr
    assert "Traceback" not in result.stderr


EXTREMES = [10**30, -(10**30), -5, float("nan"), float("inf"), "abc", "", True, 2.5, "🙂"]


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("steps", "Steps"),
        ("count", "Number of pictures"),
        ("width", "Width"),
        ("seed", "Seed"),
        ("guidance", "Guidance"),
    ],
)
def test_every_generation_number_at_its_extremes_through_the_api(studio, field, label):
    from gradio_client import Client

    client = Client(studio.url, verbose=False)
    before = len(client.predict(limit=200, api_name="/jobs"))
    for value in EXTREMES:
        if isinstance(value, float) and not math.isfinite(value):
            continue  # JSON has no NaN or infinity: gradio_client refuses to send them (tested below)
        if field == "guidance" and value in (-5, -(10**30), 2.5):
            continue  # a negative guidance means "the model's default" in the API; 2.5 is a fine value
        if field in ("steps", "width") and value == "":
            continue  # empty means "the model's default"
        with pytest.raises(Exception) as err:
            client.predict(prompt="a boat", **{field: value}, api_name="/generate")
        message = str(err.value)
        assert label in message and ("between" in message or "at least" in message), (field, value, message)
    assert len(client.predict(limit=200, api_name="/jobs")) == before  # nothing was queued
    assert client.predict(prompt="still answering", api_name="/generate")["job_id"]


@pytest.mark.parametrize("field", ["steps", "count", "width", "height", "seed", "guidance"])
def test_non_finite_numbers_are_refused_by_the_form_the_api_fills(app_ctx, field):
    from isengard.errors import InputError
    from isengard.generation.service import GenerateForm

    for value in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(InputError, match="must be a"):
            app_ctx.generation.submit(GenerateForm(prompt="x", **{field: value}))
    assert app_ctx.runner.list() == []


def test_unicode_prompts_reach_the_picture_and_its_settings(studio):
    from gradio_client import Client

    client = Client(studio.url, verbose=False)
    prompt = "Zoë 在海边 🌊 — «quote» \u2028 end"
    job_id = client.predict(prompt=prompt, api_name="/generate")["job_id"]
    import time

    for _ in range(200):
        job = client.predict(job_id=job_id, api_name="/job")
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded", job["error"]
    image = job["result"]["images"][0]
    assert isinstance(image["file"], str) and "path" not in image  # plain JSON, no file download
    from isengard.generation.metadata import JSON_CHUNK, read_png_text

    assert json.loads(read_png_text(image["file"])[JSON_CHUNK])["prompt"] == prompt.strip()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--steps", str(10**30)], "Training steps must be a whole number between 1 and 100,000"),
        (["--steps", "nan"], "Training steps must be a whole number"),
        (["--steps", "-1"], "Training steps must be a whole number"),
        (["--rank", "inf"], "LoRA rank must be a whole number between 1 and 256"),
        (["--lr", "nan"], "Learning rate must be a number"),
        (["--lr", "1e999"], "Learning rate must be a number"),
        (["--seed", "12345678901234567890123"], "Seed must be a whole number"),
    ],
)
def test_training_numbers_at_their_extremes_through_the_cli(tmp_path, args, words):
    env = child_env(tmp_path)
    photo = tmp_path / "p.png"
    from tests import photos

    photos.astronaut().save(photo)
    assert run_cli(["character", "create", "Max", "--photos", str(photo), "--no-check"], env).returncode == 0
    result = run_cli(["train", "Max", "--base", "flux-dev", *args], env)
    assert result.returncode == 5 and words in result.stderr and "Traceback" not in result.stderr, (
        result.stderr
    )
    jobs = json.loads(run_cli(["jobs", "list", "--json"], env).stdout)["jobs"]
    assert not [j for j in jobs if j["kind"] == "train"]  # refused before a job was queued


def test_generation_numbers_at_their_extremes_through_the_cli(tmp_path):
    env = child_env(tmp_path)
    for args, words in [
        (["--steps", "1e400"], "Steps must be a whole number"),
        (["--count", str(10**20)], "Number of pictures must be a whole number between 1 and 8"),
        (["--seed", "-2"], "Seed must be a whole number between -1"),
        (["--guidance", "nan"], "Guidance must be a number between 0 and 30"),
        (["--strength", "inf", "--lora", "x.safetensors"], ""),
    ]:
        result = run_cli(["generate", "--prompt", "x", *args], env)
        assert result.returncode == 5 and words in result.stderr and "Traceback" not in result.stderr, (
            result.stderr
        )
