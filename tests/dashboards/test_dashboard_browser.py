"""The running app (`dashboards/server.py`, as `revorc up` serves it) in headless Chromium: sign in through the
form, visit every page, screenshot each one into `screenshots/` (git-ignored), and fail on a Streamlit exception
box or an error alert; no developer toolbar; a reload or a shared link keeps the user signed in (HttpOnly cookie
of a revocable API session), a deep link opens its page after sign-in, and a signed-out, revoked or expired
session shows the sign-in form again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import psycopg
import pytest

from dashboards.components.session import COOKIE_NAME
from pipelines.ingest.ledger import psycopg_conninfo
from tests.dashboards.conftest import ADMIN_LOGIN, REP_LOGIN, ROOT, free_port

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = {"today": "Today", "prospects": "Prospects", "email": "E-mail", "accounts": "Accounts", "deals": "Deals",
         "cadences": "Cadences", "bdr": "BDR agent",
         "pipeline": "Pipeline", "forecast": "Forecast", "performance": "Performance", "outreach": "Outreach",
         "intent": "Intent", "lead_scoring": "Lead scoring", "search": "Search", "data_health": "Data health",
         "notifications": "Notifications", "api_keys": "API keys", "integrations": "Integrations",
         "billing": "Plan and billing", "mailboxes": "Mailboxes", "sso": "Single sign-on", "team": "Team",
         "audit_log": "Audit log", "my_settings": "My settings"}
HEADINGS = {"outreach": "Outreach analytics"}
SHOTS = ROOT / "screenshots"


@pytest.fixture(scope="module")
def running_app(seeded, tmp_path_factory):
    port = free_port()
    log = (tmp_path_factory.mktemp("streamlit") / "streamlit.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards/server.py"), "--server.headless",
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
            page.get_by_role("textbox", name="E-mail", exact=True).fill(ADMIN_LOGIN[0])
            page.get_by_role("textbox", name="Password", exact=True).fill(ADMIN_LOGIN[1])
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Today").wait_for(timeout=60_000)
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


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _sign_in(page, login=REP_LOGIN) -> None:
    page.get_by_role("textbox", name="E-mail", exact=True).fill(login[0])
    page.get_by_role("textbox", name="Password", exact=True).fill(login[1])
    page.get_by_role("button", name="Sign in").click()


def _session_cookie(context) -> dict | None:
    """The session cookie once the browser holds it (set by a fetch right after sign-in)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
        if found:
            return found[0]
        time.sleep(0.2)
    return None


def _shows_sign_in(page) -> None:
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    # the previous page's navigation stays on screen until the sign-in page's run has finished drawing
    page.locator('[data-testid="stSidebarNav"]').wait_for(state="detached", timeout=60_000)
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0


def test_no_developer_toolbar_for_end_users(running_app, browser):
    page = browser.new_page()
    page.goto(running_app, wait_until="domcontentloaded")
    _sign_in(page)
    page.get_by_role("heading", name="Today").wait_for(timeout=60_000)
    _settle(page)
    assert page.locator('[data-testid="stAppDeployButton"]').count() == 0
    page.locator('[data-testid="stMainMenu"]').click()
    menu = page.locator('[data-testid="stMainMenuPopover"]')
    menu.wait_for(timeout=10_000)
    assert "Rerun" not in menu.inner_text() and "Clear cache" not in menu.inner_text()
    page.close()


def test_reload_and_shared_links_keep_the_user_signed_in(running_app, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(running_app, wait_until="domcontentloaded")
    _sign_in(page)
    page.get_by_role("heading", name="Today").wait_for(timeout=60_000)
    cookie = _session_cookie(context)
    assert cookie is not None, "no session cookie after sign-in"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert COOKIE_NAME not in page.evaluate("document.cookie")  # page scripts never see the token
    page.reload(wait_until="domcontentloaded")
    page.get_by_role("heading", name="Today").wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Sign in").count() == 0
    # a link to a page, opened in a new tab of the same browser, opens that page signed in
    shared = context.new_page()
    shared.goto(f"{running_app}/forecast", wait_until="domcontentloaded")
    shared.get_by_role("heading", name="Forecast", exact=True).wait_for(timeout=60_000)
    assert shared.get_by_role("button", name="Sign in").count() == 0
    context.close()


def test_deep_link_opens_its_page_after_sign_in(running_app, browser):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{running_app}/intent?tier=hot", wait_until="domcontentloaded")
    _shows_sign_in(page)
    _sign_in(page)
    page.get_by_role("heading", name="Intent", exact=True).wait_for(timeout=60_000)
    assert page.url.startswith(f"{running_app}/intent")
    context.close()


def test_sign_out_revokes_the_session_everywhere(running_app, browser, seeded):
    context = browser.new_context()
    page = context.new_page()
    page.goto(running_app, wait_until="domcontentloaded")
    _sign_in(page)
    page.get_by_role("heading", name="Today").wait_for(timeout=60_000)
    cookie = _session_cookie(context)
    assert cookie is not None
    other = browser.new_context()  # e.g. the same cookie copied to another browser
    other.add_cookies([cookie])
    page.get_by_role("button", name="Sign out").click()
    _shows_sign_in(page)
    page.reload(wait_until="domcontentloaded")
    _shows_sign_in(page)
    refused = httpx.post(f"{seeded.api_url}/api/v1/auth/sessions/refresh", json={"sessionToken": cookie["value"]})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "SESSION_REVOKED"
    copied = other.new_page()
    copied.goto(running_app, wait_until="domcontentloaded")
    _shows_sign_in(copied)
    copied.get_by_text("signed out", exact=False).wait_for(timeout=10_000)
    context.close()
    other.close()


def test_expired_session_shows_the_sign_in_form(running_app, browser, seeded):
    context = browser.new_context()
    page = context.new_page()
    page.goto(running_app, wait_until="domcontentloaded")
    _sign_in(page)
    page.get_by_role("heading", name="Today").wait_for(timeout=60_000)
    cookie = _session_cookie(context)
    assert cookie is not None
    sid = jwt.decode(cookie["value"], options={"verify_signature": False})["sid"]
    with psycopg.connect(psycopg_conninfo(seeded.database), autocommit=True) as conn:
        conn.execute("update app.auth_sessions set expires_at = now() - interval '1 second' where id = %s", (sid,))
    page.reload(wait_until="domcontentloaded")
    _shows_sign_in(page)
    page.get_by_text("expired", exact=False).wait_for(timeout=10_000)
    context.close()


def _wait_text(page, text: str) -> None:
    page.get_by_text(text, exact=False).first.wait_for(timeout=60_000)


def test_a_rep_works_their_day_in_chromium(running_app, browser, seeded):
    """The main flows of the workspace, clicked through as a rep would, each page screenshotted for the docs."""
    api = httpx.Client(base_url=f"{seeded.api_url}/api/v1")
    token = api.post("/auth/login", json={"email": REP_LOGIN[0], "password": REP_LOGIN[1]}).json()["accessToken"]
    api.headers["Authorization"] = f"Bearer {token}"
    suffix = str(time.time_ns())[-8:]
    context = browser.new_context(viewport={"width": 1500, "height": 2000})
    page = context.new_page()
    page.goto(running_app, wait_until="domcontentloaded")
    _sign_in(page)
    page.get_by_role("heading", name="Today").wait_for(timeout=60_000)

    # create a prospect: the record opens
    page.goto(f"{running_app}/prospects", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Prospects", exact=True).wait_for(timeout=60_000)
    page.get_by_role("textbox", name="E-mail", exact=True).fill(f"flow-{suffix}@example.com")
    page.get_by_role("textbox", name="First name").fill(f"Flo{suffix}")
    page.get_by_role("button", name="Add prospect").click()
    _wait_text(page, f"Added Flo{suffix}.")
    _settle(page)
    page.screenshot(path=str(SHOTS / "workspace_prospect.png"), full_page=True)

    # import a CSV with a bad row: the row report says which and why
    page.get_by_role("button", name="All prospects").click()
    page.get_by_role("tab", name="Import a CSV").click()
    csv = (f"email,first_name\ngood-{suffix}@example.com,Good\nnot-an-address,Bad\n").encode()
    page.locator('input[type="file"]').set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": csv}])
    page.get_by_role("button", name="Import").click()
    _wait_text(page, "1 rejected.")
    _wait_text(page, "not-an-address")  # the row report names the bad row and why
    page.screenshot(path=str(SHOTS / "workspace_import.png"), full_page=True)

    # enroll the new prospect in a cadence from its record
    prospect = api.get("/prospects", params={"q": f"Flo{suffix}"}).json()["data"][0]
    cadence = api.post("/cadences", json={"name": f"Flow cadence {suffix}", "steps": [
        {"type": "call", "delayDays": 0, "content": "Intro call"}]}).json()
    page.goto(f"{running_app}/prospects?prospect={prospect['id']}", wait_until="domcontentloaded")
    page.get_by_role("heading", name=f"Flo{suffix}").wait_for(timeout=60_000)
    _settle(page)
    page.get_by_role("tab", name="Actions").click()
    page.get_by_label("Cadence").click()
    page.get_by_role("option", name=f"Flow cadence {suffix}").click()
    page.get_by_role("button", name="Enroll").click()
    _wait_text(page, "Enrolled.")
    page.screenshot(path=str(SHOTS / "workspace_enroll.png"), full_page=True)
    enrolled = api.get(f"/cadences/{cadence['id']}/enrollments").json()["data"]
    assert [e["prospectId"] for e in enrolled] == [prospect["id"]]

    # a call task due now, completed from Today with the call logged
    api.post("/tasks", json={"type": "call", "title": f"Call Flo {suffix}", "prospectId": prospect["id"],
                             "dueAt": "2020-01-01T09:00:00Z"})
    page.goto(running_app, wait_until="domcontentloaded")  # Today is the default page: served at the root
    _wait_text(page, f"Call Flo {suffix}")
    _settle(page)
    page.get_by_role("button", name="Log call and complete").first.click()
    _wait_text(page, "Done: ")
    page.screenshot(path=str(SHOTS / "workspace_today.png"), full_page=True)
    assert api.get("/calls", params={"prospectId": prospect["id"]}).json()["data"]

    # compose and send an e-mail to the outbox
    page.goto(f"{running_app}/email", wait_until="domcontentloaded")
    page.get_by_role("heading", name="E-mail", exact=True).wait_for(timeout=60_000)
    _settle(page)
    page.get_by_role("textbox", name="To (search prospects)").fill(f"Flo{suffix}")
    page.get_by_role("textbox", name="To (search prospects)").press("Enter")
    page.get_by_role("textbox", name="Subject").fill("A quick idea")
    page.get_by_role("textbox", name="Message").fill("Hi {{firstName}}, shall we talk?")
    page.get_by_role("textbox", name="Message").press("Control+Enter")
    page.get_by_role("button", name="Send").click()
    _wait_text(page, "Queued for sending.")
    page.screenshot(path=str(SHOTS / "workspace_email.png"), full_page=True)
    assert api.get("/emails", params={"prospectId": prospect["id"]}).json()["data"]

    # drag a deal on the board to the stage it reached
    moving = api.post("/deals", json={"name": f"Drag deal {suffix}", "amount": 5000, "stage": "discovery"}).json()
    page.goto(f"{running_app}/deals", wait_until="domcontentloaded")
    board = page.frame_locator('iframe[title*="sortable"]')
    card = board.get_by_text(f"Drag deal {suffix}")
    card.wait_for(timeout=60_000)
    _settle(page)
    start, drop = card.bounding_box(), board.locator(".sortable-container").nth(1).bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(drop["x"] + drop["width"] / 2, drop["y"] + 40, steps=15)  # a hand moves, it does not jump
    page.mouse.up()
    _wait_text(page, f"Drag deal {suffix} moved to Qualification.")
    _settle(page)
    page.screenshot(path=str(SHOTS / "workspace_board.png"), full_page=True)
    assert api.get(f"/deals/{moving['id']}").json()["stage"] == "qualification"

    # close a deal from its record
    deal = api.post("/deals", json={"name": f"Flow deal {suffix}", "amount": 9000, "stage": "proposal"}).json()
    page.goto(f"{running_app}/deals?deal={deal['id']}", wait_until="domcontentloaded")
    page.get_by_role("heading", name=f"Flow deal {suffix}").wait_for(timeout=60_000)
    _settle(page)
    page.get_by_role("button", name="Close", exact=True).click()
    _wait_text(page, "Deal closed won.")
    page.screenshot(path=str(SHOTS / "workspace_deal.png"), full_page=True)
    assert api.get(f"/deals/{deal['id']}").json()["stage"] == "closed_won"
    context.close()
