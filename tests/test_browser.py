"""The user flow in a real browser: Chromium through Playwright against `streamlit run app.py`.

Skipped where Chromium or playwright is missing, except on CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from deeprock import settings
from deeprock.corpus import demo
from deeprock.corpus.catalog import Catalog
from deeprock.corpus.scan import scan

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STARTUP_SECONDS = 60
# Playwright's waits, its clicks' too: a page's first render on 2 busy cores (numba compiling,
# TensorFlow loading in a training beside it) has taken over 30 s; the scan takes a few seconds
TIMEOUT_MS = 60_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser test cannot run on CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]



@contextlib.contextmanager
def app_page(sync_playwright, server: str):
    """Headless Chromium on a page of the app (its address); the browser is closed after."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(server, timeout=TIMEOUT_MS)
            yield page
        finally:
            browser.close()

@pytest.fixture
def playwright_api():
    """(sync_playwright, expect); checked before anything is generated or started."""
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not importable")
    return sync_playwright, expect


@pytest.fixture
def corpus(playwright_api, tmp_path, monkeypatch) -> dict:
    """A 20-file demo corpus, settings naming it and a catalog not yet built, expected counts."""
    folder = tmp_path / "demo"
    demo.generate(folder, files=20, seed=1)
    monkeypatch.setenv("DEEPROCK_SETTINGS", str(tmp_path / "settings.json"))
    catalog = tmp_path / "catalog.sqlite"
    settings.save(settings.Settings(str(folder), str(catalog)))
    manifest = json.loads((folder / demo.MANIFEST).read_text(encoding="utf-8"))
    corrupt = {row["path"] for row in manifest["files"] if row["kind"] == "corrupt"}
    reference = scan([str(folder)], str(tmp_path / "reference.sqlite"))
    # Every corrupt file is either repaired or failed, and nothing else is.
    assert reference.files == len(manifest["files"]) == 20
    assert reference.recovered + reference.failed == len(corrupt) > 0
    assert reference.ok == reference.files - len(corrupt)
    with Catalog(str(tmp_path / "reference.sqlite")) as built:
        summary = built.summary()
    return {"folder": folder, "catalog": catalog, "reference": reference, "summary": summary}


@pytest.fixture
def server(corpus, tmp_path) -> Iterator[str]:
    """`streamlit run app.py` on a free port; killed (its whole process group) afterwards."""
    port = _free_port()
    log_path = tmp_path / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--browser.gatherUsageStats", "false",
               # parallel edits in the checkout must not prompt a rerun mid-test
               "--server.fileWatcherType", "none"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n"
                            f"{log_path.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not healthy after {STARTUP_SECONDS} s:\n"
                            f"{log_path.read_text(errors='replace')}")
            time.sleep(0.25)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.mark.browser
def test_scan_then_tune_unique_factor_in_chromium(playwright_api, server, corpus, tmp_path):
    sync_playwright, expect = playwright_api
    reference = corpus["reference"]
    with app_page(sync_playwright, server) as page:
        expect(page.get_by_role("heading", name="DeepRock Studio")).to_be_visible(
            timeout=TIMEOUT_MS)
        expect(page.get_by_text("No catalog yet")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_text(f"20 MIDI files in {corpus['folder']}")).to_be_visible()
        assert not corpus["catalog"].exists()

        page.get_by_role("button", name="Scan", exact=True).click()
        expect(page.get_by_text("Scanned 20 files")).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_text(
            f"({reference.new} parsed, 0 unchanged): {reference.ok} ok, "
            f"{reference.recovered} recovered, {reference.failed} failed")).to_be_visible()
        expect(page.get_by_text("No catalog yet")).to_have_count(0)

        metrics = page.get_by_test_id("stMetric")
        expect(metrics).to_have_count(8, timeout=TIMEOUT_MS)
        shown = {}
        for i in range(metrics.count()):
            metric = metrics.nth(i)
            label = metric.get_by_test_id("stMetricLabel").inner_text().strip()
            shown[label] = metric.get_by_test_id("stMetricValue").inner_text().strip()
        assert shown["Files"] == "20"
        assert shown["Read cleanly"] == str(reference.ok)
        assert shown["Recovered"] == str(reference.recovered)
        assert shown["Failed"] == str(reference.failed)
        summary = corpus["summary"]
        assert shown["Guitar files"] == str(summary["guitar_files"])
        assert shown["Guitar tracks"] == str(summary["guitar_tracks"])
        assert shown["Guitar tokens"] == f"{summary['tokens']:,}"
        problems = reference.recovered + reference.failed
        expect(page.get_by_text(f"{problems} files recovered or failed")).to_be_visible()
        page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

        page.get_by_test_id("stSidebar").get_by_role("link", name="Dataset health").click()
        expect(page.get_by_role("heading", name="Dataset health")).to_be_visible(
            timeout=TIMEOUT_MS)
        page.get_by_role("tab", name="Windows").click()
        kept = page.get_by_test_id("stMetric").filter(has_text="Windows kept")
        value = kept.get_by_test_id("stMetricValue")
        expect(value).to_be_visible(timeout=TIMEOUT_MS)
        page.get_by_role("slider").nth(0).focus()  # sequence_length: 100 → 40
        for _ in range(12):
            page.keyboard.press("ArrowLeft")
        expect(value).not_to_have_text("0", timeout=TIMEOUT_MS)
        page.wait_for_timeout(1000)  # let the last rerun settle
        before = value.inner_text()
        page.get_by_role("slider").nth(1).focus()  # unique_factor: 10 → 18
        for _ in range(8):
            page.keyboard.press("ArrowRight")
        expect(value).not_to_have_text(before, timeout=TIMEOUT_MS)
        assert int(value.inner_text().replace(",", "")) < int(before.replace(",", ""))
        page.screenshot(path=str(tmp_path / "health.png"), full_page=True)
    assert corpus["catalog"].exists()
