"""A real `yiwang up` server and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """`yiwang up` on a fresh SQLite installation, as a user would start it."""
    if os.environ.get("YIWANG_TEST_DATABASE_URL"):
        pytest.skip("browser tests run in the SQLite pass of the suite, against a fresh `yiwang up`")
    home = tmp_path_factory.mktemp("live")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWANG_")}
    env.update(YIWANG_HOME=str(home), YIWANG_LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [sys.executable, "-m", "yiwang.cli", "up", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"yiwang up exited early:\n{proc.stdout.read()}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("yiwang up did not become healthy within 90 s")
    yield base
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}; `make test` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    failed: list[str] = []
    pg.on("requestfailed", lambda r: failed.append(r.url))
    pg.on(
        "request", lambda r: failed.append("external: " + r.url) if not r.url.startswith("http://127.0.0.1") else None
    )
    yield pg
    context.close()
    assert not failed, f"requests that failed or left the machine: {failed}"


@pytest.fixture
def screenshot():
    """``screenshot(page, "name")`` saves a full-page PNG under test-results/ (kept by CI)."""

    def _shot(page, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot
