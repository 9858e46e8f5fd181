"""Real browser, production mode on the tiny FLUX: every view of a training tells the same story at every
moment — a tab reloaded during the first-use build, a second tab on a phone, the header — through the
build, the training, Stop (pressed in the other tab), Resume and the end. Train is off for the person who
is training, in every tab; the reloaded tab shows the job's own settings, not the form's defaults; no line
from a finished phase ("Building the tiny flux model", "Making samples") stays on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.helpers import child_env, run_cli, solid_photos
from tests.server_fixtures import _screenshot, choose, open_page, start_studio, stop_studio

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TINY_FLUX = "Tiny FLUX (test model)"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    root = tmp_path_factory.mktemp("truth-studio")  # no tiny model yet: the first training builds it
    env = child_env(root, ISENGARD_MODE="production")
    made = run_cli(
        ["character", "create", "Ada", "--photos", *map(str, solid_photos(root / "in")), "--no-check"], env
    )
    assert made.returncode == 0, made.stderr
    started = start_studio(root, ISENGARD_MODE="production")
    yield started
    stop_studio(started)


def _status(page):
    return page.locator("#train-status")


def test_a_reloaded_tab_and_a_second_tab_agree_from_the_build_to_the_end(browser, studio):
    with open_page(browser, studio) as first, open_page(browser, studio) as second:
        second.set_viewport_size(PHONE)
        first.get_by_role("tab", name="Training").click()
        choose(first, "train-character", "Ada")
        choose(first, "train-base", TINY_FLUX)
        first.wait_for_function("() => document.querySelector('#train-preset input').value.includes('Tiny')")
        steps = first.locator("#param-steps input").first
        steps.fill("1200")
        steps.press("Tab")
        first.click("#train-start")
        first.reload()  # during the first-use build
        first.get_by_role("tab", name="Training").click()
        second.reload()
        second.get_by_role("tab", name="Training").click()
        for page in (first, second):
            expect(_status(page)).to_contain_text("Training Ada — in progress", timeout=30_000)
            expect(page.locator("#train-start")).to_be_disabled()  # a second press is not possible
            expect(page.locator("#param-steps input").first).to_have_value("1200")  # the job's own setting
            expect(_status(page)).to_contain_text("of 1,200", timeout=60_000)  # the training itself
            expect(_status(page)).not_to_contain_text("Building")  # the build's line ended with the build
            expect(page.locator("#isg-activity")).to_contain_text("Training Ada")
        _screenshot(first, "truth-training-1400")
        _screenshot(second, "truth-training-390")
        for page in (first, second):  # the header's activity line: whole, and over nothing else
            assert page.evaluate(
                "() => { const a = document.querySelector('#isg-activity'); return a.scrollWidth <= a.clientWidth + 1; }"
            ), "the activity line is cut off"
            activity = page.locator("#isg-activity").bounding_box()
            badge = page.locator("#isg-mode").bounding_box()
            apart = (
                activity["y"] >= badge["y"] + badge["height"] or activity["x"] >= badge["x"] + badge["width"]
            )
            assert apart, "the activity line lies over the mode badge"

        second.click("#train-cancel")  # Stop in one tab …
        for page in (first, second):  # … every tab says so, and Train is back
            expect(_status(page)).to_contain_text("stopped", timeout=30_000)
            expect(page.locator("#train-start")).to_be_enabled()
        first.click("#train-resume")  # Resume in the other
        for page in (first, second):
            expect(_status(page)).to_contain_text("in progress", timeout=30_000)
            expect(page.locator("#train-start")).to_be_disabled()
        for page in (first, second):
            expect(_status(page)).to_contain_text("done · 1,200 steps", timeout=300_000)
            expect(_status(page)).not_to_contain_text("left")  # no estimate after the end
            expect(_status(page)).not_to_contain_text("Making samples")
            expect(page.locator("#train-start")).to_be_enabled()
        assert first.page_errors == [] and second.page_errors == []


@pytest.mark.parametrize("width", [1400, 390])
def test_a_model_that_cannot_be_had_here_is_explained_and_nothing_starts(browser, studio, width):
    """Offline (as the tests are): Z-Image Turbo would have to be downloaded. The list says so next to the
    model, Train says why beside itself and starts nothing, and picking another model clears it."""
    from tests.ui.test_guided_studio_browser import error_badges

    with open_page(browser, studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.get_by_role("tab", name="Training").click()
        choose(page, "train-character", "Ada")
        page.locator("#train-base input").click()
        page.get_by_role("option", name="Z-Image Turbo", exact=True).click()
        expect(page.locator("#train-model-state")).to_contain_text(
            "not downloaded, and this computer is offline"
        )
        page.click("#train-start")
        hint = page.locator("#train-start-hint")
        expect(hint).to_contain_text(
            "has to be downloaded first, and this computer cannot reach the Hugging Face hub"
        )
        assert error_badges(page) == []
        expect(page.locator("#train-status")).to_contain_text("Nothing is training")  # no job was started
        _screenshot(page, f"truth-offline-{width}")
        choose(page, "train-base", TINY_FLUX)
        expect(hint).to_be_hidden()  # the problem belonged to the other choice
        assert page.page_errors == []
