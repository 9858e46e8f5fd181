"""`python -m isengard character …` as a user runs it."""

from __future__ import annotations

import json

from tests import photos
from tests.helpers import child_env, run_cli


def test_create_with_photos_show_caption_delete(tmp_path):
    env = child_env(tmp_path)
    good = photos.good_set(tmp_path / "in")
    bad = photos.bad_files(tmp_path / "bad")
    result = run_cli(
        [
            "character",
            "create",
            "Ada Lovelace",
            "--class-word",
            "woman",
            "--photos",
            *map(str, good),
            str(bad["truncated"]),
            "--json",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["character"]["trigger_word"] == "adlvzx" and data["character"]["photo_count"] == 4
    assert data["rejected"] == [
        {
            "file": "cut_off.jpg",
            "reason": "the file is damaged or incomplete (it may have been cut off while copying)",
        }
    ]
    assert data["checks"]["checked"] == 4
    assert data["report"]["readiness"]["photo_count"] == 4
    shown = run_cli(["character", "show", "ada lovelace"], env)
    assert "Readiness:" in shown.stdout and "Add 6 more photos" in shown.stdout
    captioned = run_cli(
        ["character", "caption", "Ada Lovelace", "--template", "{trigger} at work", "--json"], env
    )
    assert json.loads(captioned.stdout)["captioned"] == 4
    listed = json.loads(run_cli(["character", "list", "--json"], env).stdout)["characters"]
    assert [c["name"] for c in listed] == ["Ada Lovelace"] and listed[0]["readiness"] == "needs_attention"
    photo_id = data["added"][0]["id"]
    edited = run_cli(["character", "set-caption", "Ada Lovelace", str(photo_id), "at her desk"], env)
    assert edited.stdout.strip() == "adlvzx, at her desk" and "was added" in edited.stderr
    refused = run_cli(["character", "delete", "Ada Lovelace"], env)  # no tty, no --yes
    assert refused.returncode == 5 and "Add --yes" in refused.stderr
    deleted = run_cli(["character", "delete", "Ada Lovelace", "--yes", "--json"], env)
    assert deleted.returncode == 0 and json.loads(deleted.stdout)["photos"] == 4


def test_every_file_rejected_exits_5(tmp_path):
    env = child_env(tmp_path)
    run_cli(["character", "create", "Empty"], env)
    bad = photos.bad_files(tmp_path / "bad")
    result = run_cli(
        ["character", "add-photos", "Empty", str(bad["text_as_jpg"]), str(bad["one_pixel"])], env
    )
    assert result.returncode == 5
    assert "rejected notes.jpg: this is not an image" in result.stderr
    assert "rejected pixel.png: the photo is only 1×1 pixels" in result.stderr


def test_bad_names_get_one_sentence(tmp_path):
    env = child_env(tmp_path)
    cases = {"": "Give the character a name", "a/b": "can't contain /", "x" * 70: "keep it to 60"}
    for name, message in cases.items():
        result = run_cli(["character", "create", name], env)
        assert result.returncode == 5 and message in result.stderr and "Traceback" not in result.stderr
    assert run_cli(["character", "create", "Twin"], env).returncode == 0
    dup = run_cli(["character", "create", "twin"], env)
    assert dup.returncode == 5 and "already a character called 'twin'" in dup.stderr
    emoji = run_cli(["character", "create", "🌸 Zoë 🌸", "--json"], env)
    assert emoji.returncode == 0 and json.loads(emoji.stdout)["character"]["trigger_word"] == "zoezx"


def test_blip_captions_in_production_mode_on_a_tiny_model(tmp_path, tiny_models):
    from isengard.tiny.blip import build_tiny_blip

    model = build_tiny_blip(tiny_models / "tiny-blip")
    env = child_env(tmp_path, ISENGARD_MODE="production", ISENGARD_CAPTION_MODEL=str(model))
    good = photos.good_set(tmp_path / "in")[:2]
    created = run_cli(
        ["character", "create", "Blip Test", "--photos", *map(str, good), "--no-check", "--json"], env
    )
    assert created.returncode == 0, created.stderr
    trigger = json.loads(created.stdout)["character"]["trigger_word"]
    result = run_cli(["character", "caption", "Blip Test", "--captioner", "blip", "--json"], env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["captioned"] == 2
    assert all(p["caption"].startswith(f"{trigger} person") for p in data["photos"])
    assert all(p["caption_source"] == "model" for p in data["photos"])


def test_blip_is_refused_in_fast_test_mode(tmp_path):
    env = child_env(tmp_path)
    good = photos.good_set(tmp_path / "in")[:1]
    run_cli(["character", "create", "Fast", "--photos", *map(str, good), "--no-check"], env)
    result = run_cli(["character", "caption", "Fast", "--captioner", "blip"], env)
    assert result.returncode == 7 and "fast-test mode uses no model weights" in result.stderr
