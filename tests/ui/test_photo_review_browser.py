"""Real browser: many photos at once — a suggestion names its photos, selects them and removes them, and
Undo brings them back; two captions edited in the captions list; a photo's original beside its crop."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests import photos
from tests.helpers import child_env, run_cli
from tests.server_fixtures import choose, open_page, start_studio, stop_studio

pytestmark = pytest.mark.browser


def test_suggestions_select_remove_undo_and_the_captions_list(page, studio, tmp_path):
    env = child_env(studio.root)
    good = photos.good_set(tmp_path / "in")
    made = run_cli(["character", "create", "Review Person", "--photos", *map(str, good)], env)
    assert made.returncode == 0, made.stderr
    page.reload()
    page.get_by_role("tab", name="Characters").wait_for()
    choose(page, "char-pick", "Review Person")
    thumbs = page.locator("#char-photos button.thumbnail-item")
    expect(thumbs).to_have_count(4)

    # the near-duplicate suggestion names its photo; one click selects it, one removes it; Undo
    suggestion = page.locator(".isg-suggestion").filter(has_text="near-duplicates")
    expect(suggestion).to_contain_text("warmer.webp")  # the later of the two near-identical photos
    page.locator("#char-select-box").get_by_text("Select several photos").click()
    suggestion.locator(".isg-suggest-select").click()
    expect(page.locator("#char-selected input[type=checkbox]:checked")).to_have_count(1)
    suggestion.locator(".isg-suggest-remove").click()
    expect(thumbs).to_have_count(3)
    expect(page.locator("#char-undo-text")).to_contain_text("Removed 1 photo.")
    page.shot("characters_removed_undo")
    page.click("#char-undo")
    expect(thumbs).to_have_count(4)
    expect(page.locator("#char-undo-box")).to_be_hidden()

    # select two by hand and remove them together, then bring them back
    boxes = page.locator("#char-selected input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#char-remove-selected")
    expect(thumbs).to_have_count(2)
    page.click("#char-undo")
    expect(thumbs).to_have_count(4)

    # the captions list: every photo with its caption; two edited, each saved on its row
    page.locator("#char-captions-view").get_by_text("All captions").click()
    rows = page.locator(".isg-caption-row")
    expect(rows).to_have_count(4)
    for index, words in ((0, "smiling in a space suit"), (2, "close-up, warm light")):
        row = rows.nth(index)
        row.locator("textarea, input[type=text]").first.fill(words)
        row.get_by_role("button", name="Save").click()
        expect(row).to_contain_text(re.compile("Saved|trigger word .* was added"))
    listed = run_cli(["character", "show", "Review Person", "--json"], env)
    assert "smiling in a space suit" in listed.stdout and "close-up, warm light" in listed.stdout
    page.shot("characters_captions_list")

    # auto-crop says what it did; a photo shows its original beside its crop; Undo goes back
    page.click("#char-crop")
    expect(page.locator("#char-crop-result")).to_contain_text("Cropped", timeout=60_000)
    expect(page.locator("#char-undo-text")).to_contain_text("Cropped")
    thumbs.first.click()
    expect(page.locator("#char-original img")).to_have_count(1)
    expect(page.locator("#char-crop-view img")).to_have_count(1)
    page.click("#char-undo")
    expect(page.locator("#char-undo-box")).to_be_hidden()
    assert page.page_errors == []


@pytest.fixture
def late_studio(tmp_path):
    """A studio whose "open a character" answers 4 s late and whose Training tab remembers the person 2 s
    late (a server under load: "open" is sent before the page remembers whom it shows)."""
    studio = start_studio(
        tmp_path / "late",
        command=["-m", "tests.slow_training_studio"],
        LATE_ACTIONS="characters.open:4,training.choose_character:2",
    )
    yield studio
    stop_studio(studio)


def _logged(root, words: str) -> bool:
    return any(words in log.read_text() for log in (root / "logs").rglob("*") if log.is_file())


def test_a_late_redraw_of_the_same_person_keeps_the_photos_selected(browser, late_studio, tmp_path):
    """A person made while the studio runs: the page draws them on opening, and the person list's own
    "open" follows (their name newly in it) — here 4 s late: a suggestion selected meanwhile stays
    selected when it lands."""
    made = run_cli(
        ["character", "create", "Late Person", "--photos", *map(str, photos.good_set(tmp_path / "in"))],
        child_env(late_studio.root),
    )
    assert made.returncode == 0, made.stderr
    with open_page(browser, late_studio) as page:
        suggestion = page.locator(".isg-suggestion").filter(has_text="near-duplicates")
        expect(suggestion).to_contain_text("warmer.webp")
        page.locator("#char-select-box").get_by_text("Select several photos").click()
        suggestion.locator(".isg-suggest-select").click()
        checked = page.locator("#char-selected input[type=checkbox]:checked")
        expect(checked).to_have_count(1)
        assert _logged(late_studio.root, '"characters.open"')  # the list's own "open" was sent…
        assert not _logged(late_studio.root, "characters.open done")  # …and answers after the click
        deadline = time.monotonic() + 30
        while not _logged(late_studio.root, "characters.open done") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _logged(late_studio.root, "characters.open done")
        page.wait_for_timeout(500)  # its updates drawn
        expect(checked).to_have_count(1)
        assert page.page_errors == []


def test_suggestions_of_a_person_just_chosen_wait_for_their_panel(browser, late_studio, tmp_path):
    """Choosing another person resets the selection in the answer that draws their panel — here 4 s late.
    Their suggestions come with that answer, never before it: a suggestion selected as soon as it shows
    stays selected."""
    env = child_env(late_studio.root)
    other = run_cli(
        [
            "character",
            "create",
            "Aaa First",
            "--no-check",
            "--photos",
            *map(str, photos.good_set(tmp_path / "a")),
        ],
        env,
    )
    assert other.returncode == 0, other.stderr
    made = run_cli(
        ["character", "create", "Late Person", "--photos", *map(str, photos.good_set(tmp_path / "b"))], env
    )
    assert made.returncode == 0, made.stderr
    with open_page(browser, late_studio) as page:
        expect(page.locator("#char-name")).to_have_text("Aaa First")  # the first person, from the page load
        choose(page, "char-pick", "Late Person")
        suggestion = page.locator(".isg-suggestion").filter(has_text="near-duplicates")
        expect(suggestion).to_contain_text("warmer.webp", timeout=30_000)
        page.locator("#char-select-box").get_by_text("Select several photos").click()
        suggestion.locator(".isg-suggest-select").click()
        checked = page.locator("#char-selected input[type=checkbox]:checked")
        expect(checked).to_have_count(1)
        expect(page.locator("#char-name")).to_have_text("Late Person", timeout=30_000)  # their panel landed
        page.wait_for_timeout(500)
        expect(checked).to_have_count(1)
        assert page.page_errors == []
