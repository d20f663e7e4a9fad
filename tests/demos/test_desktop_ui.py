"""The desktop web UI end to end in a real browser: `tinycrew desktop` serves it on a free 127.0.0.1 port
with the packaged 0.5B on a temporary sandbox; headless Debian Chromium, driven by Playwright, types a
request, approves the call and the test finds the note on disk.

Chromium comes from Debian (`tests/demos/ensure_chromium.sh`, run by `make test`): `playwright install`
downloads its own browser, which machines that reach only package mirrors cannot.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, stop_process
from tinycrew.cli.desktop_ui import DEMO_REQUEST

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "tests" / "demos" / "artifacts"
REQUEST = DEMO_REQUEST
"""The terminal demo's request (the README's first command): a note and a reminder, approved in the UI."""
URL_LINE = re.compile(r"desktop assistant: (http://127\.0\.0\.1:\d+/)")


class UIServer:
    """A started `tinycrew desktop` process, its URL, sandbox and log."""

    def __init__(self, process: subprocess.Popen[str], url: str, root: Path, log: Path) -> None:
        self.process, self.url, self.root, self.log = process, url, root, log


@pytest.fixture
def ui_server(tmp_path: Path) -> Iterator[UIServer]:
    """`tinycrew desktop --port 0` on a fresh sandbox, ready (model loaded); stopped however the test ends."""
    root, log = tmp_path / "sandbox", tmp_path / "desktop.log"
    command = [
        sys.executable, "-c", "from tinycrew.cli import main; main()", "desktop",
        "--root", str(root), "--port", "0", "--now", "2026-12-03T09:00",
        "--trajectories", str(tmp_path / "trajectories.sqlite"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        url = _wait_for_url(process, log)
        _wait_until_ready(process, url, log)
        yield UIServer(process, url, root, log)
    finally:
        stop_process(process, timeout=15)  # uvicorn takes 2 s for open event streams


def _wait_for_url(process: subprocess.Popen[str], log: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if match := URL_LINE.search(log.read_text()):
            return match.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"tinycrew desktop exited: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    raise RuntimeError(f"tinycrew desktop printed no URL: {log.read_text()[-2000:]}")


def _wait_until_ready(process: subprocess.Popen[str], url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = httpx.get(url + "api/info", timeout=5).json()
        except httpx.TransportError:  # uvicorn still starting (the socket queues, it does not answer yet)
            time.sleep(0.3)
            continue
        if info["ready"]:
            return
        if info["error"] or process.poll() is not None:
            raise RuntimeError(f"the UI could not load its model: {info['error']} {log.read_text()[-2000:]}")
        time.sleep(0.3)
    raise RuntimeError("the UI's model did not load in time")


@pytest.fixture
def page() -> Iterator[object]:
    """A page in headless Debian Chromium; the browser is closed however the test ends."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: run `bash tests/demos/ensure_chromium.sh` (apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 950})
        finally:
            browser.close()


def test_note_request_approved_in_the_browser_lands_on_disk(ui_server: UIServer, page) -> None:  # noqa: ANN001
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(ui_server.url)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_selector("#send:not([disabled])", timeout=10_000)
    assert page.inner_text("#root") == str(ui_server.root.resolve())

    page.fill("#input", REQUEST)
    page.click("#send")
    page.wait_for_selector("button.approve", timeout=120_000)
    card = page.inner_text(".approval")
    assert "create_note(" in card, card
    # the plan is drawn: one SVG node per planned call, create_note among them, waiting for approval
    assert page.locator('#dag g.node[data-state="waiting"]').count() >= 1
    assert "create_note" in page.inner_text("#dag")

    # a locator finds the button again when a step event redraws the approval card before the click
    approve = page.locator("button.approve:not([disabled])").first
    approve.click()
    deadline = time.monotonic() + 240
    while not page.query_selector('.assistant[data-status="done"]'):  # a later step may ask again
        assert time.monotonic() < deadline, "the run did not finish"
        if approve.count():
            with contextlib.suppress(PlaywrightTimeout):  # answered or redrawn meanwhile: look again
                approve.click(timeout=2_000)
        page.wait_for_timeout(500)
    page.wait_for_selector("#trajectory tr.step", timeout=10_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "desktop_ui.png"
    page.screenshot(path=str(shot))
    print(f"\nscreenshot: {shot}")

    notes = [p for p in (ui_server.root / "Notes").rglob("*.md") if "grocer" in p.name.lower()]
    assert notes, f"no groceries note under {ui_server.root / 'Notes'}"
    text = notes[0].read_text(encoding="utf-8").lower()
    assert "egg" in text and "milk" in text, text
    print(f"note: {notes[0]}: {text.strip()!r}")

    roles = page.locator("#trajectory tr.step").evaluate_all("rows => rows.map(r => r.dataset.role)")
    assert "crew_planner" in roles, roles  # the planner's draft ran as written: its step made the call
    assert page.locator("#trajectory .tag.local").count() == len(roles)  # no cloud configured: all local
    assert page.locator('#dag g.node[data-state="ok"]').count() >= 1
    assert not errors, errors
