"""The running app in headless Chromium: sign in through the form, visit every page, screenshot each one
into `screenshots/` (git-ignored), and fail on a Streamlit exception box or an error alert."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.dashboards.conftest import ADMIN_LOGIN, ROOT, free_port

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = {"pipeline": "Pipeline", "forecast": "Forecast", "performance": "Performance", "outreach": "Outreach",
         "intent": "Intent", "lead_scoring": "Lead scoring", "data_health": "Data health"}
HEADINGS = {"outreach": "Outreach analytics"}
SHOTS = ROOT / "screenshots"


@pytest.fixture(scope="module")
def running_app(seeded, tmp_path_factory):
    port = free_port()
    log = (tmp_path_factory.mktemp("streamlit") / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards/streamlit_app.py"), "--server.headless",
         "true", "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"streamlit did not start; see {log.name}")
        time.sleep(0.3)
    yield url
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def _settle(page) -> None:
    """Wait until Streamlit has finished running the script (no running indicator, no skeletons)."""
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=60_000)
    page.wait_for_timeout(800)


def _failures(page) -> list[str]:
    boxes = page.locator('[data-testid="stException"]').all_inner_texts()
    errors = [t for t in page.locator('[data-testid="stAlertContentError"]').all_inner_texts()]
    return boxes + errors


def test_every_page_renders_in_chromium(running_app):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 2400})
            page.goto(running_app, wait_until="domcontentloaded")
            page.get_by_role("textbox", name="E-mail").fill(ADMIN_LOGIN[0])
            page.get_by_role("textbox", name="Password").fill(ADMIN_LOGIN[1])
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Pipeline").wait_for(timeout=60_000)
            _settle(page)
            failures = {}
            for name, title in PAGES.items():
                page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
                page.get_by_role("heading", name=HEADINGS.get(name, title), exact=True).wait_for(timeout=60_000)
                _settle(page)
                page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
                if _failures(page):
                    failures[name] = _failures(page)
            assert not failures, failures
        finally:
            browser.close()
