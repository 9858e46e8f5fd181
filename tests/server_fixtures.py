"""A real studio process (`python app.py`) on a free port, and a headless Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from isengard.settings import PROJECT_ROOT
from tests.helpers import child_env, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


@dataclass
class Studio:
    url: str
    root: Path
    process: subprocess.Popen
    startup_seconds: float

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def output(self) -> str:
        return Path(self.root / "studio.out").read_text(encoding="utf-8", errors="replace")


def start_studio(
    root: Path, *, timeout: float = 90.0, command: list[str] | None = None, **env_extra: str
) -> Studio:
    """`python app.py` (or `command`, a studio launcher of the tests) on a free port, once it answers."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = child_env(root, PORT=str(port), **env_extra)
    out = open(root / "studio.out", "w")  # noqa: SIM115 - closed when the process ends
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, *(command or ["app.py"])],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"studio exited with {proc.returncode}:\n{(root / 'studio.out').read_text()}")
        try:
            with urllib.request.urlopen(url + "healthz", timeout=2) as resp:
                if resp.status == 200:
                    return Studio(url, root, proc, time.monotonic() - started)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"studio did not answer within {timeout}s:\n{(root / 'studio.out').read_text()}")


def stop_studio(studio: Studio) -> None:
    studio.process.terminate()
    try:
        studio.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        studio.process.kill()


@pytest.fixture(scope="session")
def studio(tmp_path_factory):
    """One fast-test studio shared by the browser tests."""
    s = start_studio(tmp_path_factory.mktemp("studio"))
    yield s
    stop_studio(s)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _screenshot(pg, name: str) -> None:
    """Full-page screenshots for people to look at, when ISENGARD_SCREENSHOT_DIR is set."""
    folder = os.environ.get("ISENGARD_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@contextlib.contextmanager
def open_page(browser, studio: Studio):
    """A fresh browser tab on `studio`, collecting page errors and able to save screenshots."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(studio.url)
    pg.wait_for_selector("#isg-header")
    # Gradio mounts the tab buttons after the page shell; tests start once the studio is fully drawn.
    pg.get_by_role("tab", name="Characters").wait_for()
    pg.page_errors = errors  # type: ignore[attr-defined]
    pg.shot = lambda name: _screenshot(pg, name)  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def page(browser, studio):
    with open_page(browser, studio) as pg:
        yield pg


def choose(page, elem_id: str, option: str) -> None:
    """Pick `option` in the Gradio dropdown `#elem_id`, as a person does: open it, click the option."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()
