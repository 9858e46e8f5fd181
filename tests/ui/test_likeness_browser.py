"""Real browser: the likeness curve fills while a character trains (the likeness test double draws real
face pictures as samples), the recommendation says which step looks most like them and why, "Use this
checkpoint in Image Gen" makes Image Gen pick it for the character."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import photos
from tests.helpers import child_env, run_cli
from tests.server_fixtures import choose, open_page, start_studio, stop_studio

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def likeness_studio(tmp_path_factory):
    root = tmp_path_factory.mktemp("likeness-studio")
    good = photos.good_set(root / "in")
    created = run_cli(
        ["character", "create", "Ada", "--photos", *map(str, good), "--no-check"], child_env(root)
    )
    assert created.returncode == 0, created.stderr
    studio = start_studio(root, command=["-m", "tests.likeness_double", str(good[0])])
    yield studio
    stop_studio(studio)


def test_the_likeness_curve_and_using_the_recommended_checkpoint(browser, likeness_studio):
    with open_page(browser, likeness_studio) as page:
        page.get_by_role("tab", name="Training").click()
        choose(page, "train-character", "Ada")
        page.locator("#train-advanced").get_by_text("Advanced settings").click()
        choose(page, "train-backend", "Rising likeness (test double)")
        for field, value in (("steps", "20"), ("save_every", "5"), ("sample_every", "5")):
            box = page.locator(f"#param-{field} input").first
            box.fill(value)
            box.press("Tab")
        page.click("#train-start")
        expect(page.locator("#train-recommendation")).to_contain_text(
            "step 15: looks most like Ada", timeout=60_000
        )
        expect(page.locator("#train-recommendation")).to_contain_text("step 20 starts copying photo #1")
        expect(page.locator("#train-likeness-box")).to_contain_text("a sign of over-training")
        expect(page.locator("#train-likeness-chart svg circle")).to_have_count(4)
        page.shot("training_likeness")
        page.click("#train-use-checkpoint")
        expect(page.get_by_text("Image Gen now uses step 15 for this character.")).to_be_visible()

        # the report of one file, later, from the LoRA list: its score, its probes, the JSON to download
        page.locator("#train-checkpoints").get_by_text("Checkpoints").click()
        page.locator("#train-pick-checkpoint input").click()
        page.get_by_role("option").filter(has_text="step 15").first.click()
        expect(page.locator("#train-lora-likeness")).to_contain_text("This file (step 15):")
        expect(page.locator("#train-lora-likeness")).to_contain_text("Recommended: step 15")
        expect(page.locator("#train-lora-probes img")).to_have_count(1)
        expect(page.locator("#train-lora-report")).to_be_visible()
        page.shot("training_lora_report")

        # "Measure likeness" draws the probes with the picked file through the image backend (fast-test
        # placeholders here: no face) and shows that file's new report
        page.locator("#train-pick-lora input").click()
        page.get_by_role("option").filter(has_text="20 steps").first.click()
        page.click("#train-measure")
        expect(page.locator("#train-lora-likeness")).to_contain_text(
            "This file (step 20): no face found", timeout=60_000
        )
        expect(page.locator("#train-lora-probes img")).to_have_count(5)

        page.get_by_role("tab", name="Image Gen").click()
        choose(page, "gen-character", "Ada")
        page.wait_for_function("() => document.querySelector('#gen-lora input').value.includes('step 15')")
        assert page.page_errors == []
