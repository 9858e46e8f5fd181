"""Nothing a person made is lost: damaged or missing databases, races, and deletes while work runs."""

from __future__ import annotations

import json
import shutil
import threading

import pytest

from isengard.context import bootstrap
from isengard.errors import InputError, StorageError
from tests import photos
from tests.helpers import child_env, make_settings, run_cli, wait_for


def _studio_with_work(tmp_path):
    """A data folder with a character, photos, an edited caption, a trained LoRA and a picture."""
    ctx = bootstrap(make_settings(tmp_path), console=False, backups=True)
    ada = ctx.characters.create("Ada Lovelace", class_word="woman")
    added = ctx.characters.add_photos(ada.id, [(p, p.name) for p in photos.good_set(tmp_path / "in")])
    ctx.characters.set_caption(added.added[0].id, "a photo of SPECIAL caption")
    job = ctx.runner.wait(ctx.training.submit(ada.id, base_model="flux-dev", overrides={"steps": 20}), 60)
    assert job.status == "succeeded", job.error
    from isengard.generation.service import GenerateForm

    gen, _ = ctx.generation.submit(GenerateForm(prompt=f"{ada.trigger_word} at the beach", seed=5))
    assert ctx.runner.wait(gen, 60).status == "succeeded"
    return ctx, ada


def test_an_empty_database_beside_data_refuses_to_start_and_recover_rebuilds_it(tmp_path):
    ctx, ada = _studio_with_work(tmp_path)
    photo_names = sorted(p.original_name for p in ctx.characters.photos(ada.id))
    ctx.close()
    bootstrap(make_settings(tmp_path), console=False, backups=True).close()  # a restart: a backup now
    db = tmp_path / "data" / "isengard.db"
    db.rename(tmp_path / "moved-aside.db")  # what the old advice for a damaged database said to do

    env = child_env(tmp_path)
    refused = run_cli(["character", "list"], env)
    assert refused.returncode == 3 and "Traceback" not in refused.stderr
    assert "still holds your work" in refused.stderr and "python -m isengard recover" in refused.stderr
    assert "--backup latest" in refused.stderr  # the start-up backup is offered
    assert not db.exists()  # refusing created nothing

    recovered = run_cli(["recover", "--json"], env)
    assert recovered.returncode == 0, recovered.stderr
    report = json.loads(recovered.stdout)
    assert report["characters"] == ["Ada Lovelace"] and report["photos"] == 4
    assert report["loras"] == 1 and report["pictures"] == 1 and report["generations"] == 1
    assert report["not_rebuilt"] == ["job history", "likeness scores"]  # said, not left to be discovered
    assert "Not rebuilt (the files do not hold them): the job history" in report["summary"]

    ctx = bootstrap(make_settings(tmp_path), console=False)
    again = ctx.characters.get("Ada Lovelace")
    assert again.trigger_word == ada.trigger_word and again.class_word == "woman"
    assert sorted(p.original_name for p in ctx.characters.photos(again.id)) == photo_names
    assert any("SPECIAL caption" in p.caption for p in ctx.characters.photos(again.id))
    lora = ctx.loras.newest_for_character(again.id)
    assert lora is not None and lora.trigger_word == ada.trigger_word
    history = ctx.generation.history()
    assert (
        len(history) == 1
        and history[0]["character_id"] == again.id
        and history[0]["prompt"].endswith("beach")
    )
    ctx.close()


def test_a_backup_can_be_restored_instead(tmp_path):
    ctx, _ = _studio_with_work(tmp_path)
    ctx.close()
    bootstrap(make_settings(tmp_path), console=False, backups=True).close()  # the next start backs it up
    (tmp_path / "data" / "isengard.db").write_bytes(b"")  # an empty file, as a failed copy leaves
    env = child_env(tmp_path)
    restored = run_cli(["recover", "--backup", "latest"], env)
    assert restored.returncode == 0 and "Restored the database backup" in restored.stdout
    listed = run_cli(["character", "list"], env)
    assert listed.returncode == 0 and "Ada Lovelace" in listed.stdout


def test_damaged_pages_anywhere_get_the_storage_sentence_and_exit_3(tmp_path):
    ctx, _ = _studio_with_work(tmp_path)
    ctx.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ctx.close()
    db = tmp_path / "data" / "isengard.db"
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    for offset in range(3 * page, len(data) - page, page):  # every page past the schema: header intact
        data[offset + 100 : offset + 400] = b"\xff" * 300
    db.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="database is damaged") as err:
        bootstrap(make_settings(tmp_path), console=False)
    assert err.value.exit_code == 3
    result = run_cli(["character", "list"], child_env(tmp_path))
    assert result.returncode == 3 and "Traceback" not in result.stderr and "recover" in result.stderr
    rebuilt = run_cli(["recover", "--json"], child_env(tmp_path))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["moved_aside"].startswith("isengard.db.before-recover")


def test_a_new_database_never_reuses_an_old_characters_folder(tmp_path):
    ctx, ada = _studio_with_work(tmp_path)
    old_folder = ctx.characters.folder_of(ada.id)
    old_photos = sorted(p.name for p in old_folder.iterdir())
    ctx.close()
    shutil.move(tmp_path / "data" / "isengard.db", tmp_path / "aside.db")
    fresh = bootstrap(make_settings(tmp_path), console=False, allow_empty_database=True)
    bob = fresh.characters.create("Bob")
    assert fresh.characters.folder_of(bob.id) != old_folder and bob.id == ada.id  # same id, new folder
    fresh.characters.delete(bob.id)
    assert sorted(p.name for p in old_folder.iterdir()) == old_photos  # Ada's photos are untouched
    fresh.close()


def test_three_trainings_in_the_same_second_keep_three_loras(app_ctx, tmp_path, monkeypatch):
    """One person trains once at a time, so the three run one after another — each named as if in the
    same second (the clock the names are made from is held still while each is submitted)."""
    import time as clock

    ada = app_ctx.characters.create("Ada")
    app_ctx.characters.add_photos(ada.id, [(p, p.name) for p in photos.good_set(tmp_path)])
    real = clock.strftime
    paths = []
    for _ in range(3):
        monkeypatch.setattr(clock, "strftime", lambda fmt, *args: real(fmt, clock.gmtime(0)))
        job = app_ctx.training.submit(ada.id, base_model="flux-dev", overrides={"steps": 5})
        monkeypatch.setattr(clock, "strftime", real)
        paths.append(app_ctx.runner.wait(job, 60).result["lora_path"])
    assert len({p.rsplit("_", 2)[-2] for p in paths}) == 1  # the same second in every name
    assert len(set(paths)) == 3
    assert all(__import__("pathlib").Path(p).stat().st_size > 0 for p in paths)
    assert len(app_ctx.loras.for_character(ada.id)) == 3


def test_a_second_training_of_a_person_who_trains_is_refused_whoever_asks(app_ctx, tmp_path):
    from isengard.errors import InputError
    from tests.helpers import wait_for

    ada = app_ctx.characters.create("Ada")
    app_ctx.characters.add_photos(ada.id, [(p, p.name) for p in photos.good_set(tmp_path)])
    first = app_ctx.training.submit(ada.id, base_model="flux-dev", overrides={"steps": 5000})
    wait_for(lambda: app_ctx.runner.get(first).status == "running", timeout=30)
    with pytest.raises(InputError, match="Ada is already training: wait for it to finish, or stop it first"):
        app_ctx.training.submit(ada.id, base_model="flux-dev", overrides={"steps": 5})
    app_ctx.runner.cancel(first)
    app_ctx.runner.wait(first, 30)
    again = app_ctx.training.submit(ada.id, base_model="flux-dev", overrides={"steps": 5})
    assert app_ctx.runner.wait(again, 60).status == "succeeded"


def test_the_same_photos_dropped_in_two_tabs_at_once(app_ctx, tmp_path):
    ada = app_ctx.characters.create("Ada")
    files = [(p, p.name) for p in photos.good_set(tmp_path)]
    results, barrier = [], threading.Barrier(2)

    def drop():
        barrier.wait()
        results.append(app_ctx.characters.add_photos(ada.id, files))

    threads = [threading.Thread(target=drop) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    added = sum(len(r.added) for r in results)
    assert added == len(files) and sum(len(r.duplicates) for r in results) == len(files)
    stored = app_ctx.characters.photos(ada.id)
    assert len(stored) == len(files) and all(p.path.exists() for p in stored)
    assert all("already added" in line for r in results for line in r.lines())


def test_a_character_cannot_be_deleted_while_it_trains(app_ctx, tmp_path):
    ada = app_ctx.characters.create("Ada")
    app_ctx.characters.add_photos(ada.id, [(p, p.name) for p in photos.good_set(tmp_path)])
    job_id = app_ctx.training.submit(ada.id, base_model="flux-dev", overrides={"steps": 2000})
    wait_for(lambda: app_ctx.runner.get(job_id).status == "running")
    with pytest.raises(InputError, match="Ada is training — cancel it first"):
        app_ctx.characters.delete(ada.id)
    assert app_ctx.characters.get(ada.id).photo_count == 4  # nothing was removed
    app_ctx.runner.cancel(job_id)
    assert app_ctx.runner.wait(job_id, 30).status == "cancelled"
    app_ctx.characters.delete(ada.id)
    assert app_ctx.runner.get(job_id).status == "cancelled"  # never a failed job with a foreign-key error


def test_a_photo_removed_while_captions_are_written(app_ctx, tmp_path):
    from plugins.base import Availability
    from plugins.captioning.interface import Captioner, CaptionResult

    reached, proceed = threading.Event(), threading.Event()

    class SlowCaptioner(Captioner):  # test double: waits while the photo is removed under it
        name, version, label = "slow-test", "1", "Slow (test)"

        def availability(self):
            return Availability.yes("test")

        def run(self, request, ctx):
            reached.set()
            proceed.wait(10)
            for image in request.images:
                assert image.read_bytes()  # it still reads every photo it was given
            return CaptionResult(captions=[f"a photo of {request.trigger_word}, seen"] * len(request.images))

    app_ctx.registry.register(SlowCaptioner())
    ada = app_ctx.characters.create("Ada")
    app_ctx.characters.add_photos(ada.id, [(p, p.name) for p in photos.good_set(tmp_path)])
    first = app_ctx.characters.photos(ada.id)[0]
    job_id = app_ctx.characters.submit_captions(ada.id, captioner="slow-test")
    assert reached.wait(10)
    app_ctx.characters.remove_photo(first.id)
    proceed.set()
    job = app_ctx.runner.wait(job_id, 30)
    assert job.status == "succeeded", job.error
    left = app_ctx.characters.photos(ada.id)
    assert len(left) == 3 and all(p.caption.endswith("seen") for p in left)
    assert not first.path.exists() and not first.path.with_suffix(".txt").exists()  # no orphan caption
