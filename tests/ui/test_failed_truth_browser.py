"""Real browser: a training that fails reads the same in a reloaded tab and in a second tab on a phone —
failed, with its reason in one sentence, no time left, Train back on — and the header lets it go."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.helpers import child_env, run_cli, solid_photos
from tests.server_fixtures import choose, open_page, start_studio, stop_studio

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def failing_studio(tmp_path):
    root = tmp_path / "failing"
    made = run_cli(
        ["character", "create", "Bea", "--photos", *map(str, solid_photos(root / "in")), "--no-check"],
        child_env(root),
    )
    assert made.returncode == 0, made.stderr
    studio = start_studio(
        root, command=["-m", "tests.slow_training_studio"], SECONDS_PER_RUN="12", FAIL_AT_STEP="40"
    )
    yield studio
    stop_studio(studio)


def test_a_failed_training_reads_the_same_after_a_reload_and_in_a_second_tab(browser, failing_studio):
    with open_page(browser, failing_studio) as first, open_page(browser, failing_studio) as second:
        second.set_viewport_size({"width": 390, "height": 844})
        first.get_by_role("tab", name="Training").click()
        choose(first, "train-character", "Bea")
        steps = first.locator("#param-steps input").first
        steps.fill("100")
        steps.press("Tab")
        first.click("#train-start")
        expect(first.locator("#train-status")).to_contain_text("in progress", timeout=30_000)
        second.reload()
        second.get_by_role("tab", name="Training").click()
        first.reload()
        first.get_by_role("tab", name="Training").click()
        for page in (first, second):
            status = page.locator("#train-status")
            expect(status).to_contain_text("failed", timeout=60_000)
            expect(status).to_contain_text("The simulated GPU stopped answering")
            expect(status).not_to_contain_text("left")
            expect(status).not_to_contain_text("in progress")
            expect(page.locator("#train-start")).to_be_enabled()
            expect(page.locator("#isg-activity")).to_be_hidden()
        first.shot("truth-failed-1400")
        second.shot("truth-failed-390")
        assert first.page_errors == [] and second.page_errors == []
