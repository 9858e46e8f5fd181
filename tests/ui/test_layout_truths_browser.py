"""Real browser, at 1400 and 390 px: the layout a newcomer meets — a photo's details open next to the grid,
the LoRA import box is not clipped, a phone's picture captions leave the picture visible, and a training
with no samples yet shows one line, not an empty framed box."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers import cli_person
from tests.server_fixtures import choose, open_page

pytestmark = pytest.mark.browser
WIDTHS = [1400, 390]


def _box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_photos_details_open_right_under_the_grid(browser, studio, tmp_path, width):
    name = f"Layout Person {width}"
    cli_person(studio.root, name, tmp_path, "--no-check")
    with open_page(browser, studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        choose(page, "char-pick", name)
        page.locator("#char-photos button.thumbnail-item").first.click()
        expect(page.locator("#char-detail")).to_be_visible()
        grid, details = _box(page, "#char-photos"), _box(page, "#char-detail")
        gap = details["y"] - (grid["y"] + grid["height"])
        assert 0 <= gap < 60, gap  # directly under the grid, not below the actions and suggestions
        title = page.locator('#char-photos [data-testid="block-label"]').bounding_box()
        first = page.locator("#char-photos button.thumbnail-item").first.bounding_box()
        assert title["y"] + title["height"] <= first["y"] + 1  # the gallery's title is not over a photo
        page.shot(f"layout-photo-details-{width}")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_lora_import_box_shows_all_it_says(browser, studio, width):
    with open_page(browser, studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        page.get_by_role("tab", name="Training").click()
        drop = page.locator("#train-import-lora")
        drop.scroll_into_view_if_needed()
        clipped = drop.evaluate(
            """el => [...el.querySelectorAll('*')].filter(child => {
                const a = child.getBoundingClientRect(), b = el.getBoundingClientRect();
                return child.offsetParent && a.height > 0 && (a.bottom > b.bottom + 1 || a.top < b.top - 1);
            }).map(c => c.tagName + '.' + c.className + ' ' + c.textContent.slice(0, 40))"""
        )
        assert clipped == []
        expect(page.locator("#train-timeline-note")).to_contain_text("Sample pictures appear here")
        expect(page.locator("#train-samples")).to_be_hidden()  # no empty framed box before any sample
        expect(page.locator("#train-timeline-slider")).to_be_hidden()
        page.shot(f"layout-training-import-{width}")


def test_a_phones_picture_captions_leave_the_pictures_visible(browser, studio):
    with open_page(browser, studio) as page:
        page.set_viewport_size({"width": 390, "height": 900})
        page.get_by_role("tab", name="Image Gen").click()
        page.locator("#gen-prompt textarea").fill(
            "a long prompt about a lighthouse on a cliff at dusk with waves, gulls and a red boat"
        )
        page.click("#gen-go")
        expect(page.locator("#gen-status .isg-progress[data-status=succeeded]")).to_be_visible(timeout=60_000)
        thumb = page.locator("#gen-pictures button.thumbnail-item").first
        expect(thumb).to_be_visible()
        caption = thumb.locator(".caption-label")
        share = caption.evaluate("c => c.getBoundingClientRect().height") / thumb.evaluate(
            "t => t.getBoundingClientRect().height"
        )
        assert share < 0.25, share  # was about half of the thumbnail
        label = page.locator('#gen-pictures [data-testid="block-label"]')
        assert label.bounding_box()["y"] + label.bounding_box()["height"] <= thumb.bounding_box()["y"] + 1
        page.shot("layout-phone-captions-390")


def test_on_a_phone_a_renamed_lora_is_renamed_everywhere_at_once(browser, studio, tmp_path):
    from tests.helpers import child_env, run_cli

    cli_person(studio.root, "Phone Renamer", tmp_path, "--no-check")
    trained = run_cli(
        ["train", "Phone Renamer", "--base", "flux-dev", "--steps", "5"], child_env(studio.root)
    )
    assert trained.returncode == 0, trained.stderr
    with open_page(browser, studio) as page:
        page.set_viewport_size({"width": 390, "height": 900})
        page.get_by_role("tab", name="Training").click()
        choose(page, "train-character", "Phone Renamer")
        page.wait_for_selector("#train-readiness [data-status]")  # the person is drawn, as a person sees it
        expect(page.locator("#lib-card")).to_contain_text("Phone Renamer — ")
        page.locator("#train-lora-edit").get_by_text("Rename, notes, delete").click()
        title = page.locator("#train-lora-title input, #train-lora-title textarea").first
        expect(title).to_have_value(re.compile(r"^Phone Renamer"))  # starts from its name, not empty
        title.fill("On the go")
        page.click("#train-lora-rename")
        expect(page.locator("#lib-card")).to_contain_text("On the go — ")
        page.get_by_role("tab", name="Image Gen").click()
        page.locator("#gen-lora input").click()
        expect(page.get_by_role("option").filter(has_text="On the go — ")).not_to_have_count(0)
        page.keyboard.press("Escape")
        page.shot("layout-rename-390")
        assert page.page_errors == []
