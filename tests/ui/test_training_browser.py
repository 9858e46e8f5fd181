"""Real browser: Train → live progress → samples → the LoRA listed and downloadable (fast-test mode)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import photos
from tests.helpers import child_env, run_cli
from tests.server_fixtures import choose

pytestmark = pytest.mark.browser


def test_train_progress_samples_and_lora(page, studio, tmp_path):
    env = child_env(studio.root)
    good = photos.good_set(tmp_path / "in")
    created = run_cli(["character", "create", "Trainee", "--photos", *map(str, good), "--no-check"], env)
    assert created.returncode == 0, created.stderr

    page.get_by_role("tab", name="Training").click()
    choose(page, "train-character", "Trainee")
    page.wait_for_selector("#train-readiness [data-status]")
    steps = page.locator("#param-steps input")
    steps.fill("60")
    steps.press("Tab")
    page.locator("#train-advanced").get_by_text("Advanced settings").click()
    every = page.locator("#param-save_every input")
    expect(every).to_have_value("250")  # mounted with the preset's value: typing now sticks
    every.fill("20")
    every.press("Tab")
    expect(every).to_have_value("20")
    samples_every = page.locator("#param-sample_every input")
    samples_every.fill("20")
    samples_every.press("Tab")
    prompts = page.locator("#train-sample-prompts textarea")
    expect(prompts).to_have_value(re.compile(r"^a close-up portrait photo of \w+, a person"))  # the defaults
    page.click("#train-start")
    page.wait_for_selector("#train-step", timeout=30_000)
    page.wait_for_selector("#train-samples img", timeout=30_000)
    page.wait_for_selector("#train-done", timeout=60_000)
    expect(page.locator("#train-status")).to_contain_text("done · 60 steps")
    page.locator("#train-details").get_by_text("Details: loss curve and log").click()
    expect(page.locator("#train-log textarea")).to_have_value(re.compile("status: succeeded"))
    card = page.locator("#lib-card")
    expect(card).to_contain_text("Trainee — ")  # a human name, not the file's
    expect(card).to_contain_text("60 steps")
    expect(card).to_contain_text("Trigger word")
    expect(page.locator("#train-loss")).to_have_count(1)
    # the timeline: samples by step, the newest shown; slide back to the first stop
    note = page.locator("#train-timeline-note")
    expect(note).to_contain_text("Step 60 — sample 3 of 3")
    slider = page.locator("#train-timeline-slider input[type=range]")
    slider.focus()
    page.keyboard.press("Home")
    expect(note).to_contain_text("Step 20 — sample 1 of 3")
    expect(page.locator("#train-samples img")).not_to_have_count(0)
    page.shot("training")

    # download with the model card: the LoRA, a README naming the trigger word and base, the samples
    with page.expect_download() as got:
        page.click("#train-download-card")
    import zipfile

    with zipfile.ZipFile(got.value.path()) as archive:
        names = archive.namelist()
        readme = archive.read(next(n for n in names if n.endswith("README.md"))).decode()
    assert any(n.endswith(".safetensors") for n in names) and any("/samples/" in n for n in names)
    assert "Trigger word" in readme and "Licence of the base model" in readme

    # the library: the checkpoints fold under the LoRA; rename it, then delete it (saying what goes)
    page.locator("#train-checkpoints").get_by_text("Checkpoints").click()
    page.locator("#train-pick-checkpoint input").click()
    expect(page.get_by_role("option").filter(has_text="checkpoint at step")).not_to_have_count(0)
    page.keyboard.press("Escape")
    page.locator("#train-lora-edit").get_by_text("Rename, notes, delete").click()
    title = page.locator("#train-lora-title input, #train-lora-title textarea").first
    expect(title).not_to_have_value("")  # Rename starts from the name the LoRA has
    title.fill("")
    page.click("#train-lora-rename")
    expect(page.locator("#train-lora-title-hint")).to_contain_text("Give the LoRA a name")
    title.fill("Trainee, first try")
    page.click("#train-lora-rename")
    expect(card).to_contain_text("Trainee, first try — ")
    page.get_by_role("tab", name="Image Gen").click()  # the new name is there at once, no reload
    page.locator("#gen-lora input").click()
    expect(page.get_by_role("option").filter(has_text="Trainee, first try — ")).not_to_have_count(0)
    page.keyboard.press("Escape")
    page.get_by_role("tab", name="Training").click()
    page.click("#train-lora-delete")
    expect(page.locator("#train-lora-confirm-text")).to_contain_text("and its")
    expect(page.locator("#train-lora-confirm-text")).to_contain_text("checkpoint")
    page.shot("training_library_delete")
    page.click("#train-lora-delete-yes")
    expect(page.locator("#lib-card")).to_contain_text("No LoRA yet")
    assert page.page_errors == []


def _pick_model(page, label: str) -> None:
    page.locator("#train-base input").click()
    page.get_by_role("option", name=label, exact=True).click()
    expect(page.locator("#train-base input")).to_have_value(label)


def test_another_model_with_the_same_preset_keeps_what_was_typed(page):
    """Choosing another base model re-sends its preset; when that is the one already applied (Z-Image and
    Z-Image Turbo share theirs) the boxes keep what the person typed — another preset refills them."""
    page.get_by_role("tab", name="Training").click()
    page.locator("#train-advanced").get_by_text("Advanced settings").click()
    every = page.locator("#param-save_every input")
    _pick_model(page, "Z-Image Turbo")
    expect(page.locator("#train-preset input")).to_have_value(re.compile("Z-Image"))
    refilled = every.input_value()
    every.fill("20")
    every.press("Tab")
    _pick_model(page, "Z-Image")
    page.wait_for_timeout(1500)  # the model's answer, and a preset change if one came, have landed
    expect(every).to_have_value("20")
    _pick_model(page, "Stable Diffusion 1.5")  # another preset: its values
    expect(every).not_to_have_value("20")
    assert refilled != "20" and page.page_errors == []
