"""Real browser: Train → live progress → samples → the LoRA listed and downloadable (fast-test mode)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import photos
from tests.helpers import child_env, run_cli

pytestmark = pytest.mark.browser


def choose(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


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
    page.click("#train-start")
    page.wait_for_selector("#train-step", timeout=30_000)
    page.wait_for_selector("#train-samples img", timeout=30_000)
    page.wait_for_selector("#train-done", timeout=60_000)
    expect(page.locator("#train-status")).to_contain_text("done · 60 steps")
    page.locator("#train-details").get_by_text("Details: loss curve and log").click()
    expect(page.locator("#train-log textarea")).to_have_value(re.compile("status: succeeded"))
    table = page.locator("#train-loras")
    expect(table).to_contain_text("trainee_flux")
    expect(table).to_contain_text("finished")
    expect(page.locator("#train-loss")).to_have_count(1)
    page.shot("training")
    assert page.page_errors == []
