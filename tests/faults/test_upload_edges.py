"""Uploads that used to be kept without a word: a fully transparent picture, a thin strip, a folder inside
a dropped folder. Each is now refused or named, with its reason, in the upload summary."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from isengard.characters.uploads import check_photo
from isengard.errors import InputError
from tests import photos
from tests.helpers import child_env, run_cli


def test_a_fully_transparent_picture_and_a_thin_strip_are_refused_with_the_reason(tmp_path):
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (600, 600), (255, 0, 0, 0)).save(clear)
    with pytest.raises(InputError, match="fully transparent: there is nothing in it"):
        check_photo(clear)
    strip = tmp_path / "strip.png"
    Image.new("RGB", (30000, 300), (120, 80, 60)).save(strip)
    with pytest.raises(InputError, match=r"30000×300, a strip 100 times longer than it is wide"):
        check_photo(strip)
    half = tmp_path / "half.png"  # partly transparent is fine: flattened on white, as before
    image = photos.astronaut().convert("RGBA")
    image.putalpha(128)
    image.save(half)
    assert check_photo(half).converted == "transparent parts filled with white"
    wide = tmp_path / "panorama.jpg"  # a 3:1 panorama is still a photo
    photos.astronaut().resize((1536, 512)).save(wide)
    assert check_photo(wide).width == 1536


def test_the_cli_names_what_a_folder_holds_that_is_not_taken(tmp_path):
    folder = tmp_path / "photos"
    photos.good_set(folder)
    (folder / "more").mkdir()
    photos.astronaut().save(folder / "more" / "inside.jpg")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    (folder / "portrait.txt").write_text("a caption")  # captions beside photos are expected: no note
    Image.new("RGBA", (600, 600), (0, 0, 0, 0)).save(folder / "blank.png")
    env = child_env(tmp_path)
    done = run_cli(["character", "create", "Ada", "--photos", str(folder), "--no-check", "--json"], env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["not_taken"] == [
        "the folder 'more' inside 'photos' (add it separately to use its photos)",
        "'notes.pdf' in 'photos' (not a photo)",
    ]
    assert any("blank.png" in r["file"] and "fully transparent" in r["reason"] for r in out["rejected"]), out
    shown = run_cli(["character", "create", "Bo", "--photos", str(folder), "--no-check"], env)
    assert "not taken: the folder 'more' inside 'photos'" in shown.stderr
