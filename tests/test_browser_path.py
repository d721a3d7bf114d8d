"""The newcomer's whole path as one flow in Chromium, so that a break anywhere on it fails:
the demo corpus scanned on Home → Dataset health's Windows tab, the training selection saved →
a tiny training started from it on Train, watched until the runs table shows it (no reload) →
a riff generated from that run, downloaded as MIDI and Guitar Pro 5 → saved to the gallery and
listed there. Fixtures (Chromium, the 20-file demo corpus, `streamlit run app.py`) come from
tests/test_browser.py; skipped where Chromium or playwright is missing, except on CI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deeprock.corpus.selection import Selection, selection_path
from deeprock.generation import gallery
from deeprock.training import jobs
from tests import test_browser
from tests.test_browser import TIMEOUT_MS, app_page
from tests.test_browser_train import TINY, TRAINING_MS

# the browser test's fixtures, used here as they are
playwright_api, corpus, server = (test_browser.playwright_api, test_browser.corpus,
                                  test_browser.server)

RUN, RIFF = "newcomer", "first-riff"
SEQ_LEN = 40  # the Windows tab's sequence_length after 12 steps left from 100
FAST = {**TINY, "Epochs": "2"}  # the path, not the model: two epochs of a 16-unit LSTM


@pytest.fixture
def path_env(corpus, tmp_path, monkeypatch) -> dict:
    """Runs, the training lock and the gallery in tmp_path (set before `server` starts the app);
    a training left running is stopped after. The corpus is not scanned: Home does that."""
    monkeypatch.setenv("DEEPROCK_TRAIN_LOCK", str(tmp_path / "train.lock"))
    monkeypatch.setenv("DEEPROCK_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("DEEPROCK_RIFFS", str(tmp_path / "riffs"))
    yield {"models": tmp_path / "models", "riffs": tmp_path / "riffs",
           "selection": selection_path(corpus["catalog"])}
    active = jobs.active_job()
    if active:
        jobs.stop(active["run"])
        jobs.wait(active["run"], 60)


def no_exception(page, expect) -> None:
    """A traceback anywhere on the page is a break, even where the flow looks past it (once
    the rerun has ended: a count of 0 holds at once while the page is still being drawn)."""
    settle(page, expect)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def open_page(page, expect, name: str) -> None:
    no_exception(page, expect)  # on the page being left
    page.get_by_test_id("stSidebar").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible(
        timeout=TIMEOUT_MS)


def settle(page, expect) -> None:
    """Wait for the rerun a widget change started to end."""
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0, timeout=TIMEOUT_MS)


def scan_demo(page, expect) -> None:
    expect(page.get_by_text("No catalog yet")).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Scan", exact=True).click()
    expect(page.get_by_text("Scanned 20 files")).to_be_visible(timeout=TIMEOUT_MS)


def save_selection(page, expect) -> None:
    """sequence_length 100 → 40 on the Windows tab, then the selection saved."""
    open_page(page, expect, "Dataset health")
    page.get_by_role("tab", name="Windows").click()
    expect(page.get_by_test_id("stMetric").filter(has_text="Windows kept")).to_be_visible(
        timeout=TIMEOUT_MS)
    slider = page.get_by_role("slider", name="sequence_length")
    slider.focus()
    for _ in range(12):
        page.keyboard.press("ArrowLeft")
    expect(slider).to_have_value(str(SEQ_LEN), timeout=TIMEOUT_MS)
    settle(page, expect)
    page.get_by_role("button", name="Save training selection").click()
    expect(page.get_by_text(re.compile(r"^Saved \d+ tracks and the settings to"))).to_be_visible(
        timeout=TIMEOUT_MS)


def train(page, expect) -> None:
    """The form starts from the saved selection; a tiny run on it, watched to its end."""
    open_page(page, expect, "Train")
    expect(page.get_by_text("start from the saved training selection")).to_be_visible(
        timeout=TIMEOUT_MS)
    expect(page.get_by_label("Sequence length", exact=True)).to_have_value(str(SEQ_LEN))
    data = page.get_by_test_id("stRadio").filter(has_text="Data")
    expect(data.get_by_role("radio", name="Saved selection")).to_be_checked()
    page.get_by_label("Run name", exact=True).fill(RUN)
    for label, value in FAST.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Start training").click()
    expect(page.get_by_text("Started training")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text(f"{RUN}: finished")).to_be_visible(timeout=TRAINING_MS)
    # the run's end reruns the page once, no reload: the runs table lists it
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible(
        timeout=TIMEOUT_MS)


def generate(page, expect) -> None:
    """A short riff from the new run (the only one), with the default dataset-window primer."""
    open_page(page, expect, "Generate")
    expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value(
        re.compile(f"^{RUN} · deeprock · .* · finished"))
    length = page.get_by_label("Length (tokens)")
    length.fill("30")
    length.press("Enter")
    settle(page, expect)
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.get_by_text("Variation 1: 30 tokens generated")).to_be_visible(
        timeout=4 * TIMEOUT_MS)


def download(page, label: str):
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.get_by_role("button", name=label, exact=True).first.click()
    return download.value.suggested_filename, Path(download.value.path()).read_bytes()


def save_to_gallery(page, expect) -> None:
    page.get_by_text("Save to the gallery").click()
    page.get_by_label("Name", exact=True).fill(RIFF)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved as")).to_be_visible(timeout=TIMEOUT_MS)
    gallery_part = page.get_by_test_id("stMultiSelect").filter(has_text="Compare side by side")
    expect(gallery_part).to_contain_text(RIFF, timeout=TIMEOUT_MS)
    expect(page.get_by_text(f"{RIFF} · seed")).to_be_visible()


@pytest.mark.browser
def test_newcomer_path_from_demo_to_gallery(playwright_api, path_env, server, tmp_path):
    sync_playwright, expect = playwright_api
    with app_page(sync_playwright, server) as page:
        expect(page.get_by_role("heading", name="DeepRock Studio")).to_be_visible(
            timeout=TIMEOUT_MS)
        scan_demo(page, expect)
        save_selection(page, expect)
        train(page, expect)
        generate(page, expect)
        name, midi = download(page, "MIDI")
        assert (name, midi[:4]) == ("riff-1-riff.mid", b"MThd")
        name, gp5 = download(page, "Guitar Pro 5")
        assert (name, gp5[1:19]) == ("riff-1-riff.gp5", b"FICHIER GUITAR PRO")
        save_to_gallery(page, expect)
        no_exception(page, expect)
        page.screenshot(path=str(tmp_path / "path.png"), full_page=True)
    run = path_env["models"] / RUN
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["selection"] == str(path_env["selection"])
    assert Selection.load(path_env["selection"]).settings.seq_len == SEQ_LEN
    [entry] = gallery.list_riffs(path_env["riffs"])
    assert entry.name == RIFF and entry.record["run"] == str(run)
    assert entry.file("gp5") == gp5  # what was downloaded is what was saved
