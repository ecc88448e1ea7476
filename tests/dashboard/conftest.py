"""Fixtures of the dashboard tests: a real store, a real server process (``babysit dashboard``) and a real
headless Chromium driven by Playwright (one browser per test session; skipped with the reason when missing)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stores import synthetic_store  # noqa: E402

CHROMIUM = os.environ.get("BABYSIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m babysit dashboard --store PATH`` on a free loopback port, as a real subprocess."""

    def __init__(self, store: Path):
        self.store = store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = subprocess.Popen([sys.executable, "-m", "babysit", "dashboard", "--store", str(store),
                                      "--port", str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dashboard exited: {self.proc.stderr.read()}")
            try:
                urllib.request.urlopen(self.url + "api/searches", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("dashboard did not answer within 120 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def store_info(tmp_path_factory):
    path = tmp_path_factory.mktemp("dash") / "runs.sqlite"
    info = synthetic_store(path)
    return {**info, "path": path}


@pytest.fixture(scope="session")
def server(store_info):
    s = Server(store_info["path"])
    yield s
    s.stop()


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install -y chromium)")
    pw = sync_api.sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                               args=CHROMIUM_ARGS, headless=True)
    except Exception as err:  # a broken install: say why instead of failing every test
        pw.stop()
        pytest.skip(f"chromium did not start: {err}")
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors and page errors in ``page.errors``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)  # a loaded machine is slow, never wrong: no timing is asserted
    p = context.new_page()
    p.errors = []
    p.on("console", lambda m: p.errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    yield p
    context.close()


def wait_ready(page, timeout=120_000):
    """Wait until the view of the page's current URL is drawn (app.js sets data-ready and data-view)."""
    page.wait_for_function("document.body.dataset.ready === '1' && document.body.dataset.view === (location.hash || '#/')",
                           timeout=timeout)


def screenshot(page, name: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
