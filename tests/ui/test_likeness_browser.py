"""Real browser: the likeness curve fills while a character trains (the scripted likeness doubles draw and
read the probes: someone else, rising likeness with honest variety, then a copy of a training photo), the
recommendation says which step looks most like them, in words, and why; "Use this checkpoint in Image Gen"
makes Image Gen pick it; pictures made elsewhere are scored by dropping them beside the report — at 1400
and 390 px."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from tests.helpers import child_env, run_cli
from tests.likeness_double import character_photos, honest, write_picture
from tests.server_fixtures import _screenshot, choose, open_page, start_studio, stop_studio
from tests.ui.test_guided_studio_browser import error_badges

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def likeness_studio(tmp_path_factory):
    root = tmp_path_factory.mktemp("likeness-studio")
    good = character_photos(root / "in")
    created = run_cli(
        ["character", "create", "Ada", "--photos", *map(str, good), "--no-check"], child_env(root)
    )
    assert created.returncode == 0, created.stderr
    studio = start_studio(root, command=["-m", "tests.likeness_double"])
    studio.photos = good  # type: ignore[attr-defined]
    yield studio
    stop_studio(studio)


def test_the_likeness_curve_and_using_the_recommended_checkpoint(browser, likeness_studio):
    with open_page(browser, likeness_studio) as page:
        page.get_by_role("tab", name="Training").click()
        choose(page, "train-character", "Ada")
        page.locator("#train-advanced").get_by_text("Advanced settings").click()
        choose(page, "train-backend", "Scripted likeness (test double)")
        for field, value in (("steps", "20"), ("save_every", "5"), ("sample_every", "5")):
            box = page.locator(f"#param-{field} input").first
            box.fill(value)
            box.press("Tab")
        expect(page.locator("#param-stop_when_done input")).to_be_checked()  # on by default
        page.click("#train-start")
        recommendation = page.locator("#train-recommendation")
        expect(recommendation).to_contain_text("step 15: looks most like Ada", timeout=60_000)
        expect(recommendation).to_contain_text("76/100 — looks like them; 5 of 5 probes show a face")
        expect(recommendation).to_contain_text("step 20 starts copying photo #1")
        expect(page.locator("#train-likeness-box")).to_contain_text("a sign of over-training")
        expect(page.locator("#train-likeness-box")).to_contain_text("Higher is not always better")
        expect(page.locator("#train-likeness-chart svg circle")).to_have_count(4)
        page.shot("training_likeness")
        page.click("#train-use-checkpoint")
        expect(page.get_by_text("Image Gen now uses step 15 for this character.")).to_be_visible()

        # the report of one file, later, from the LoRA list: its score in words, its probes, the JSON
        page.locator("#train-checkpoints").get_by_text("Checkpoints").click()
        page.locator("#train-pick-checkpoint input").click()
        page.get_by_role("option").filter(has_text="step 15").first.click()
        report = page.locator("#train-lora-likeness")
        expect(report).to_contain_text(
            "This file (step 15): 76/100 — looks like them · 5 of 5 probes show a face"
        )
        expect(report).to_contain_text("Recommended: step 15")
        expect(page.locator("#train-lora-probes img")).to_have_count(5)
        expect(page.locator("#train-lora-report")).to_be_visible()
        page.shot("training_lora_report")

        # "Measure likeness" draws the probes with the picked file through the image backend (fast-test
        # placeholders here: no face) and shows that file's new report
        page.locator("#train-pick-lora input").click()
        page.get_by_role("option").filter(has_text="20 steps").first.click()
        page.click("#train-measure")
        expect(report).to_contain_text(
            "This file (step 20): no face found · 0 of 5 probes show a face", timeout=60_000
        )
        expect(page.locator("#train-lora-probes img")).to_have_count(5)

        page.get_by_role("tab", name="Image Gen").click()
        choose(page, "gen-character", "Ada")
        page.wait_for_function("() => document.querySelector('#gen-lora input').value.includes('step 15')")
        assert page.page_errors == []


@pytest.mark.parametrize("width", [1400, 390])
def test_pictures_made_elsewhere_are_scored_beside_the_report(browser, likeness_studio, tmp_path, width):
    folder = tmp_path / "comfyui"
    made = [
        write_picture(folder / f"comfy_{i}.png", spec, seed=70 + i) for i, spec in enumerate(honest(74, 68))
    ]
    copy = folder / "from_my_phone.png"
    shutil.copyfile(likeness_studio.photos[2], copy)
    with open_page(browser, likeness_studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.get_by_role("tab", name="Training").click()
        choose(page, "train-character", "Ada")
        page.locator("#train-score-box").get_by_text("Score pictures made elsewhere").click()
        page.click("#train-score-start")  # nothing dropped yet: a sentence beside the box, no error boxes
        expect(page.locator("#train-score-hint")).to_contain_text("Drop one or more pictures first.")
        assert error_badges(page) == []
        page.locator("#train-score-files input[type=file]").set_input_files([*map(str, made), str(copy)])
        page.click("#train-score-start")
        result = page.locator("#score-report")
        expect(result).to_contain_text("3 of 3 pictures show a face", timeout=60_000)
        expect(result).to_contain_text("comfy_0.png: 74/100 — looks like them")
        expect(result).to_contain_text(
            "from_my_phone.png: 90/100 — very close: check it is not copying a photo"
        )
        expect(result).to_contain_text("copies the training photo photo2.png")
        expect(result).to_contain_text("1 copy of a training photo")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        _screenshot(page, f"training_score_pictures_{width}")
        assert page.page_errors == []
