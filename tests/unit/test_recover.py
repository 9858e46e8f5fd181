"""`recover` reads what the files say, also in folders written before manifests existed."""

from __future__ import annotations

from isengard.context import bootstrap
from isengard.storage.recover import RecoveryReport, _likely_trigger, person_data, rebuild
from tests import photos
from tests.helpers import make_settings


def test_a_legacy_folder_without_a_manifest_gets_its_trigger_word_from_the_captions(tmp_path):
    settings = make_settings(tmp_path)
    folder = settings.data_dir / "uploads" / "character-1"
    folder.mkdir(parents=True)
    for i, path in enumerate(photos.good_set(tmp_path / "in")):
        target = folder / f"{i:016x}{path.suffix}"
        target.write_bytes(path.read_bytes())
        target.with_suffix(".txt").write_text(f"a photo of alcszx, a woman, number {i}\n")
    (folder / "0000000000000000.crop.jpg").write_bytes(b"")  # a crop is not a photo of its own
    ctx = bootstrap(settings, console=False, allow_empty_database=True)
    report = rebuild(ctx.db, ctx.paths)
    assert report.characters == ["Recovered character-1"] and report.photos == 4
    character = ctx.characters.get("Recovered character-1")
    assert character.trigger_word == "alcszx" and character.folder == "character-1"
    assert all("alcszx" in p.caption for p in ctx.characters.photos(character.id))
    ctx.close()


def test_person_data_counts_only_what_a_person_made(tmp_path):
    settings = make_settings(tmp_path)
    ctx = bootstrap(settings, console=False)
    assert person_data(ctx.paths) == {"photos": 0, "loras": 0, "pictures": 0}
    (ctx.paths.base_models / "tiny").mkdir(parents=True)
    (ctx.paths.base_models / "tiny" / "model.safetensors").write_bytes(b"x" * 100)  # a download, not work
    assert person_data(ctx.paths) == {"photos": 0, "loras": 0, "pictures": 0}
    ctx.close()


def test_the_trigger_guess_prefers_a_made_up_word():
    captions = ["a photo of kmzx, a man", "kmzx smiling, a photo", "a photo of kmzx outdoors"]
    assert _likely_trigger(captions) == "kmzx"
    assert _likely_trigger([]) is None


def test_the_report_reads_as_a_sentence():
    report = RecoveryReport(characters=["Ada"], photos=3, loras=1, pictures=2, generations=1)
    assert report.summary().startswith("Recovered 1 character(s) (Ada) with 3 photo(s)")
