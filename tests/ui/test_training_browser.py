"""Real browser: Train → live progress → samples → the LoRA listed and downloadable (fast-test mode)."""

from __future__ import annotations

import pytest

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
    assert "step 60 / 60" in page.locator("#train-status").inner_text()
    assert "status: succeeded" in page.locator("#train-log textarea").input_value()
    table = page.locator("#train-loras")
    page.wait_for_function("() => document.querySelector('#train-loras').innerText.includes('trainee_flux')")
    assert "final" in table.inner_text()
    assert page.locator("#train-loss").count() == 1
    page.shot("training")
    assert page.page_errors == []
