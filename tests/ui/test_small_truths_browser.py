"""Real browser, at 1400 and 390 px: the smaller things that each cost trust, each as a person meets it —
a count the form would have cut without a word."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.server_fixtures import open_page
from tests.ui.test_guided_studio_browser import error_badges

pytestmark = pytest.mark.browser
WIDTHS = [1400, 390]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_count_of_500_is_refused_with_a_sentence_not_cut_to_8(browser, studio, width):
    with open_page(browser, studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.get_by_role("tab", name="Image Gen").click()
        page.locator("#gen-prompt textarea").fill("a lighthouse at dusk")
        count = page.locator("#gen-count input")
        count.fill("500")
        count.press("Tab")
        expect(count).to_have_value("500")  # kept as typed, not silently 8
        page.click("#gen-go")
        expect(page.locator("#gen-settings-hint")).to_contain_text(
            "Number of pictures must be a whole number between 1 and 8"
        )
        assert error_badges(page) == []
        count.fill("2")
        count.press("Tab")
        page.click("#gen-go")
        expect(page.locator("#gen-status .isg-progress[data-status=succeeded]")).to_be_visible(timeout=60_000)
        expect(page.locator("#gen-settings-hint")).to_be_hidden()
        page.shot(f"small-count-{width}")
        assert page.page_errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_the_favourite_button_says_what_it_does_and_the_zip_saves_in_one_click(browser, studio, width):
    with open_page(browser, studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.get_by_role("tab", name="Image Gen").click()
        page.locator("#gen-prompt textarea").fill(f"a red kite at {width} px")
        page.click("#gen-go")
        expect(page.locator("#gen-status .isg-progress[data-status=succeeded]")).to_be_visible(timeout=60_000)
        page.locator("#gen-pictures button.thumbnail-item").first.click()
        star = page.locator("#gen-favourite")
        expect(star).to_have_text("☆ Add to favourites")
        star.click()
        expect(star).to_have_text("★ Remove from favourites")
        star.click()
        expect(star).to_have_text("☆ Add to favourites")
        with page.expect_download() as got:
            page.click("#gen-zip")
        assert got.value.suggested_filename.endswith(".zip")
        assert error_badges(page) == [] and page.page_errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_with_no_lora_yet_download_and_measure_are_off(browser, studio, tmp_path, width):
    from tests import photos
    from tests.helpers import child_env, run_cli
    from tests.server_fixtures import choose

    name = f"No Lora {width}"
    made = run_cli(
        ["character", "create", name, "--photos", *map(str, photos.good_set(tmp_path)), "--no-check"],
        child_env(studio.root),
    )
    assert made.returncode == 0, made.stderr
    with open_page(browser, studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.get_by_role("tab", name="Training").click()
        choose(page, "train-character", name)
        expect(page.locator("#lib-card")).to_contain_text("No LoRA yet")
        for button in ("#train-download", "#train-download-card", "#train-measure"):
            expect(page.locator(button)).to_be_disabled()
        page.shot(f"small-no-lora-{width}")


@pytest.fixture(scope="module")
def one_person_studio(tmp_path_factory):
    from tests import photos
    from tests.helpers import child_env, run_cli
    from tests.server_fixtures import start_studio, stop_studio

    root = tmp_path_factory.mktemp("one-person")
    made = run_cli(
        [
            "character",
            "create",
            "Only Person",
            "--photos",
            *map(str, photos.good_set(root / "in")),
            "--no-check",
        ],
        child_env(root),
    )
    assert made.returncode == 0, made.stderr
    trained = run_cli(["train", "Only Person", "--base", "flux-dev", "--steps", "5"], child_env(root))
    assert trained.returncode == 0, trained.stderr
    started = start_studio(root)
    yield started
    stop_studio(started)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_new_tab_opens_image_gen_on_the_only_person(browser, one_person_studio, width):
    with open_page(browser, one_person_studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.get_by_role("tab", name="Image Gen").click()
        expect(page.locator("#gen-character input")).to_have_value("Only Person")
        assert page.page_errors == []
