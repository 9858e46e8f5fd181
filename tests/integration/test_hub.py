"""Publishing to and importing from the Hugging Face Hub, against the local stand-in of the Hub's HTTP API
(tests/fake_hub.py) with huggingface_hub's own client: Xet is off (plain HTTP and LFS, as
`HF_HUB_DISABLE_XET=1` makes it) and offline mode is lifted for these tests only — the endpoint is the
stand-in on loopback, so nothing leaves the machine."""

from __future__ import annotations

import json

import pytest
from huggingface_hub import ModelCard

from isengard.errors import InputError, IsengardError
from tests import photos
from tests.fake_hub import FakeHub
from tests.helpers import child_env, make_settings, run_cli

WRITE, READ = "hf_write_ada", "hf_read_ada"


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)  # the stand-in only: see the module docstring
    monkeypatch.setattr(hub_constants, "HF_HUB_DISABLE_XET", True)
    fake = FakeHub().start()
    yield fake
    fake.stop()


def studio(tmp_path, hub, token=WRITE):
    from isengard.context import bootstrap

    settings = make_settings(tmp_path, mode="fast-test", env={"HF_ENDPOINT": hub.url, "HF_TOKEN": token})
    return bootstrap(settings, console=False)


@pytest.fixture
def trained(tmp_path, hub):
    ctx = studio(tmp_path / "studio", hub)
    person = ctx.characters.create("Ada Lovelace", "adlvzx", "woman")
    ctx.characters.add_photos(person.id, [(p, p.name) for p in photos.good_set(tmp_path / "in")])
    job = ctx.runner.wait(
        ctx.training.submit(
            person.id, base_model="flux-dev", overrides={"steps": 40, "save_every": 20, "sample_every": 20}
        ),
        timeout=60,
    )
    assert job.status == "succeeded", job.error
    yield ctx, ctx.loras.get(int(job.result["lora_id"]))
    ctx.close()


def publish(ctx, record, repo="ada-lora", **kw):
    return ctx.runner.wait(ctx.hub.submit(record.id, repo, **kw), timeout=60)


def test_a_lora_goes_to_a_private_repo_with_its_card_samples_and_report_in_one_commit(trained, hub):
    ctx, record = trained
    job = publish(ctx, record)
    assert job.status == "succeeded", job.error
    repo = hub.repos["ada/ada-lora"]
    assert repo.private and len(repo.commits) == 1  # private by default; one commit
    assert job.result["url"] == f"{hub.url}/ada/ada-lora" and job.result["private"] is True
    files = set(repo.files)
    assert f"{record.name}.safetensors" in files and "README.md" in files
    assert repo.files[f"{record.name}.safetensors"] == record.path.read_bytes()
    samples = sorted(f for f in files if f.startswith("samples/"))
    assert 1 <= len(samples) <= 4 and "likeness_report.json" in files
    card = ModelCard(repo.files["README.md"].decode())  # the Hub's own reading of the header
    assert card.data.base_model == "black-forest-labs/FLUX.1-dev" and card.data.instance_prompt == "adlvzx"
    assert card.data.license == "other" and card.data.license_name == "flux-1-dev-non-commercial-license"
    assert {"lora", "flux", "isengard"} <= set(card.data.tags)
    assert [w["output"]["url"] for w in card.data.widget] == samples
    assert "Made with:** Isengard" in card.text and "agreed" in card.text
    progress = [
        e.data for e in ctx.runner.events(job.id, type_="progress") if e.data.get("phase") == "uploading"
    ]
    assert progress and progress[-1]["step"] == progress[-1]["total"] > 0  # the upload's bytes, to the end
    assert ctx.loras.get(record.id).metadata["published"]["repo"] == "ada/ada-lora"


def test_public_asks_for_consent_and_an_existing_repo_gets_a_new_commit(trained, hub):
    ctx, record = trained
    with pytest.raises(InputError, match="agreed") as refused:
        ctx.hub.submit(record.id, "ada-lora", public=True)
    assert refused.value.field == "consent"
    assert publish(ctx, record).status == "succeeded"  # private first
    public = publish(ctx, record, public=True, consent=True)  # then asked, with consent, for public
    assert public.status == "succeeded" and public.result["private"] is False
    assert not hub.repos["ada/ada-lora"].private
    again = publish(ctx, record, checkpoint=20)  # the same repo: updated, its visibility left as it is
    assert again.status == "succeeded" and len(hub.repos["ada/ada-lora"].commits) == 3
    assert again.result["private"] is False and not hub.repos["ada/ada-lora"].private  # said as it is
    with pytest.raises(InputError, match="no checkpoint at step 30"):
        ctx.hub.submit(record.id, "ada-lora", checkpoint=30)


@pytest.mark.parametrize(
    ("repo", "token", "sentence"),
    [
        ("ada-lora", READ, "Your Hugging Face token can only read"),
        ("bob/ada-lora", WRITE, "The name bob/ada-lora belongs to bob, not to you"),
    ],
)
def test_a_refusal_is_one_sentence(tmp_path, hub, trained, repo, token, sentence):
    ctx, record = trained
    ctx.tokens.env_token = token
    job = publish(ctx, record, repo=repo)
    assert job.status == "failed" and job.error.startswith(sentence), job.error
    assert "Traceback" not in job.error and "hf_" not in job.error


def test_a_failure_mid_upload_publishes_nothing_and_the_retry_finishes(trained, hub):
    ctx, record = trained
    hub.fail_upload(record.path.read_bytes())  # the LoRA's own upload is refused (an expired upload URL)
    job = publish(ctx, record)
    assert job.status == "failed" and "nothing was published" in job.error
    assert hub.repos["ada/ada-lora"].files == {} and hub.repos["ada/ada-lora"].commits == []
    sent_before = len([r for r in hub.requests if r[1].startswith("lfs-upload")])
    retry = publish(ctx, record)
    assert retry.status == "succeeded" and len(hub.repos["ada/ada-lora"].commits) == 1
    resent = len([r for r in hub.requests if r[1].startswith("lfs-upload")]) - sent_before
    assert resent == 1  # only the refused file went up again: the samples were already there


def test_a_size_the_hub_refuses_is_said_so(trained, hub):
    ctx, record = trained
    hub.refuse_size_over = 10
    job = publish(ctx, record)
    assert job.status == "failed" and job.error.startswith("The Hub refused the upload as too large")


def test_the_cli_publishes_privately_and_imports_by_repo_name(trained, hub, tmp_path):
    _, record = trained
    env = child_env(tmp_path / "studio", HF_ENDPOINT=hub.url, HF_TOKEN=WRITE, HF_HUB_OFFLINE="0",
                    HF_HUB_DISABLE_XET="1")  # fmt: skip
    done = run_cli(["publish", str(record.id), "--repo", "from-cli", "--json"], env)
    assert done.returncode == 0, done.stderr
    assert hub.repos["ada/from-cli"].private and json.loads(done.stdout)["repo"] == "ada/from-cli"
    public = run_cli(["publish", str(record.id), "--repo", "cli-public", "--public"], env)
    assert public.returncode != 0 and "agreed" in public.stderr and "Traceback" not in public.stderr
    imported = run_cli(["import-lora", "ada/from-cli", "--json"], env)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["family"] == record.family


def test_import_by_repo_name_lists_several_files_and_takes_the_chosen_one(trained, hub, tmp_path):
    ctx, record = trained
    data = record.path.read_bytes()
    hub.add_repo("carol/faces", {"one.safetensors": data, "two.safetensors": data + b"", "README.md": b"hi"})
    hub.add_repo("carol/single", {"only.safetensors": data})
    imported = ctx.hub_import.bring_in("carol/single")
    assert (
        imported.family == record.family
        and imported.metadata["source"] == "hub:carol/single/only.safetensors"
    )
    with pytest.raises(
        InputError, match=r"carol/faces holds 2 LoRA files: pick one — one\.safetensors \("
    ) as many:
        ctx.hub_import.bring_in("https://huggingface.co/carol/faces")
    assert many.value.field == "hub_file"
    picked = ctx.hub_import.bring_in(f"{hub.url}/carol/faces/blob/main/two.safetensors")
    assert picked.path.exists()


def test_import_of_a_gated_or_missing_repo_says_what_to_do(tmp_path, hub, trained):
    ctx, record = trained
    hub.add_repo("dave/gated", {"g.safetensors": record.path.read_bytes()}, gated="manual")
    ctx.tokens.env_token = None
    with pytest.raises(IsengardError, match="dave/gated is gated: accept its terms"):
        ctx.hub_import.bring_in("dave/gated")
    with pytest.raises(IsengardError, match="There is no nobody/none on the Hub"):
        ctx.hub_import.bring_in("nobody/none")
