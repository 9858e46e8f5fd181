"""Settings → Workers in the browser: a studio with a job queue shows its own worker (started by the studio
on this machine's processor) and what it runs; a studio without one shows this machine's job slots."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.server_fixtures import open_page, start_studio, stop_studio

pytestmark = pytest.mark.slow


@pytest.fixture
def queue_studio(tmp_path, redis_server):
    studio = start_studio(tmp_path / "studio", REDIS_URL=redis_server.url)
    yield studio
    stop_studio(studio)


def _open_workers(page):
    page.click("#isg-settings-open")
    page.click("#isg-workers")


@pytest.mark.parametrize("width", [1400, 390])
def test_the_workers_panel_lists_the_studios_own_worker(browser, queue_studio, width):
    with open_page(browser, queue_studio) as page:
        page.set_viewport_size({"width": width, "height": 900})
        _open_workers(page)
        note = page.locator("#isg-workers-note")
        expect(note).to_contain_text("1 worker connected, 0 busy", timeout=60_000)
        table = page.locator("#isg-workers-table")
        expect(table).to_contain_text("studio")
        expect(table).to_contain_text("CPU")
        expect(table).to_contain_text("Running now: nothing (ready)")
        page.shot(f"settings_workers_queue_{width}")
        assert page.page_errors == []


def test_without_a_queue_the_panel_shows_this_machines_slots(page):
    _open_workers(page)
    expect(page.locator("#isg-workers-note")).to_contain_text("Jobs run on this machine: 1 job slot")
    expect(page.locator("#isg-workers-table")).to_contain_text("this computer's processor")
    page.shot("settings_workers_local")
