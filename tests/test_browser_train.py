"""Training from the browser: Chromium starts a tiny training on the Train page and sees its
loss curve appear, then the runs table and the verdict once it has finished, without a reload.
Fixtures (Chromium, the demo corpus, `streamlit run app.py`) come from tests/test_browser.py;
skipped where Chromium or playwright is missing, except on CI."""

from __future__ import annotations

import pytest

from deeprock.corpus.scan import scan
from deeprock.training import jobs, runs
from tests import test_browser
from tests.test_browser import TIMEOUT_MS, app_page

# the browser test's fixtures, used here as they are
playwright_api, corpus, server = (test_browser.playwright_api, test_browser.corpus,
                                  test_browser.server)

TRAINING_MS = 120_000  # TensorFlow's import and the first epoch, on 2 busy cores
TINY = {"LSTM units": "16", "Embedding size": "8", "Sequence length": "16", "LSTM layers": "1",
        "Epochs": "3", "Early-stopping patience": "0"}


@pytest.fixture
def train_env(corpus, tmp_path, monkeypatch):
    """The corpus scanned, runs and the lock in tmp_path (set before `server` starts the app);
    a training left running is stopped after."""
    scan([str(corpus["folder"])], str(corpus["catalog"]), jobs=1)
    monkeypatch.setenv("DEEPROCK_TRAIN_LOCK", str(tmp_path / "train.lock"))
    monkeypatch.setenv("DEEPROCK_MODELS", str(tmp_path / "models"))
    yield tmp_path / "models"
    active = jobs.active_job()
    if active:
        jobs.stop(active["run"])
        jobs.wait(active["run"], 60)


@pytest.mark.browser
def test_start_a_tiny_training_and_see_the_loss_curve(playwright_api, train_env, server,
                                                      tmp_path):
    sync_playwright, expect = playwright_api
    with app_page(sync_playwright, server) as page:
        # the app's navigation first: before it, the sidebar lists pages/ as plain scripts
        expect(page.get_by_role("heading", name="DeepRock Studio")).to_be_visible(
            timeout=TIMEOUT_MS)
        page.get_by_test_id("stSidebar").get_by_role("link", name="Train").click()
        expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible(
            timeout=TIMEOUT_MS)
        expect(page.get_by_text("No run yet")).to_be_visible(timeout=TIMEOUT_MS)
        page.get_by_label("Run name", exact=True).fill("browser")
        for label, value in TINY.items():
            page.get_by_label(label, exact=True).fill(value)
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("Started training")).to_be_visible(timeout=TIMEOUT_MS)
        charts = page.get_by_test_id("stPlotlyChart")
        expect(charts.first).to_be_visible(timeout=TRAINING_MS)
        expect(charts.first.get_by_text("Loss", exact=True)).to_be_visible()
        expect(charts.first.locator("path.scatterpts, path.point").first).to_be_attached()
        expect(page.get_by_text("browser: finished")).to_be_visible(timeout=TRAINING_MS)
        # the run's end reruns the page once, no reload: the runs table and the verdict
        expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible(
            timeout=TIMEOUT_MS)
        expect(page.get_by_text("interpolated trigram").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "train.png"), full_page=True)
    run = train_env / "browser"
    assert runs.read_metrics(run), "the curve came from metrics.csv"
    assert jobs.wait(run, 30) == "finished"
