"""Browser fixtures: the real app on a free local port, and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from app import create_app
from tests.browser.steps import Shoot

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
STEP_TIMEOUT_MS = 5_000  # any single wait (a page load, an element, an assertion)


@pytest.fixture
def live_server(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """The app on a fresh migrated SQLite database with reference data and demo staff; CSRF stays on."""
    from registry.seed import seed_reference, seed_users
    from tests.conftest import _deploy_shipped_files

    path = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, path)
    application = create_app({
        "TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "browser", "DEMO_MODE": True,
        "MINISTRY_BACKEND": "file",
    })
    with application.app_context():
        from webui.db import db_session

        session = db_session()
        seed_reference(session)
        seed_users(session)
        _deploy_shipped_files(session)
        session.commit()
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        application.extensions["db_engine"].dispose()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, once per session (Playwright never downloads a browser here)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                             timeout=20_000)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser, live_server: str) -> Iterator[Page]:
    """A fresh browser profile (no cookies) on the live server, with short timeouts for every step."""
    context = chromium.new_context(base_url=live_server, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def shoot() -> Shoot:
    """``shoot(page, name)``: a full-page screenshot in test-artifacts/screenshots/<name>.png."""

    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(target), full_page=True, timeout=10_000)
        return target

    return take
