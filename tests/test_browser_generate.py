"""In Chromium: a riff generated from a tiny run (made in the fixture, nothing trained by the
app), heard in the audio player, read as tab that wraps in its box, downloaded as MIDI and Ogg;
no Plotly colour warning and no 404 in the browser's console on the way (a track's piano roll
on Dataset health included). Reuses test_browser.py's
server and Playwright fixtures; `corpus` is replaced by a tiny run folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.generate_fixtures import shared_runs
from tests.test_browser import TIMEOUT_MS, app_page, playwright_api, server

__all__ = ["playwright_api", "server"]  # fixtures used by name


@pytest.fixture
def corpus(playwright_api, tmp_path, monkeypatch) -> dict:
    """What the server fixture needs in its environment: runs, riffs and settings elsewhere."""
    from deeprock import settings

    runs = shared_runs()
    monkeypatch.setenv("DEEPROCK_MODELS", str(runs["models"]))
    monkeypatch.setenv("DEEPROCK_RIFFS", str(tmp_path / "riffs"))
    monkeypatch.setenv("DEEPROCK_SETTINGS", str(tmp_path / "settings.json"))
    catalog = Path(runs["catalog"])
    settings.save(settings.Settings(str(catalog.parent / "songs"), str(catalog)))
    return {"catalog": catalog}


@pytest.mark.browser
def test_generate_hear_read_and_download_in_chromium(playwright_api, server, tmp_path):
    sync_playwright, expect = playwright_api
    with app_page(sync_playwright, server) as page:
        console, missing = [], []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("response", lambda answer: missing.append(answer.url)
                if answer.status == 404 else None)
        # a track's piano roll first: its colours were numbers, one warning a note and hover
        page.get_by_test_id("stSidebar").get_by_role("link", name="Dataset health").click()
        page.get_by_role("tab", name="One file").click()
        expect(page.locator(".js-plotly-plot:visible").first).to_be_visible(timeout=TIMEOUT_MS)
        page.locator(".js-plotly-plot:visible").first.hover()
        page.get_by_test_id("stSidebar").get_by_role("link", name="Generate").click()
        expect(page.get_by_role("heading", name="Generate")).to_be_visible(
            timeout=TIMEOUT_MS)
        page.get_by_test_id("stRadio").filter(has_text="Primer").get_by_text(
            "None", exact=True).click()
        length = page.get_by_label("Length (tokens)")
        length.fill("30")
        length.press("Enter")
        page.wait_for_timeout(500)  # the rerun starts, then the length is the app's
        expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(
            0, timeout=TIMEOUT_MS)
        page.get_by_role("button", name="Generate", exact=True).click()
        expect(page.get_by_text("Variation 1: 30 tokens generated")).to_be_visible(
            timeout=4 * TIMEOUT_MS)
        expect(page.locator("audio")).to_have_count(1, timeout=TIMEOUT_MS)
        tab = page.locator(".riff-tab")
        expect(tab).to_contain_text("E4|")
        # the tab wraps inside its box: nothing runs off to the right
        assert tab.evaluate("node => node.scrollWidth <= node.clientWidth")
        with page.expect_download(timeout=TIMEOUT_MS) as download:
            page.get_by_role("button", name="MIDI", exact=True).click()
        saved = Path(download.value.path())
        assert saved.read_bytes()[:4] == b"MThd"
        assert download.value.suggested_filename == "riff-1-riff.mid"
        with page.expect_download(timeout=TIMEOUT_MS) as download:
            page.get_by_role("button", name="Ogg", exact=True).click()
        assert Path(download.value.path()).read_bytes()[:4] == b"OggS"
        # the download did not rerun the page: the riff is still there
        expect(page.get_by_text("Variation 1: 30 tokens generated")).to_be_visible()
        page.screenshot(path=str(tmp_path / "generate.png"), full_page=True)
    colour_warnings = [line for line in console if "Invalid color" in line]
    assert (len(colour_warnings), colour_warnings[:3], missing) == (0, [], [])
