"""The review loop in Chromium: listen to an inferred track, reject it, export the labels,
undo (fixtures of tests/test_browser.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deeprock.corpus import labels
from deeprock.corpus.catalog import Catalog
from deeprock.corpus.scan import scan
from tests.test_browser import TIMEOUT_MS, app_page, corpus, playwright_api, server

__all__ = ["corpus", "playwright_api", "server"]  # fixtures, used by name


@pytest.mark.browser
def test_review_loop_in_chromium(playwright_api, corpus, server, tmp_path):
    sync_playwright, expect = playwright_api
    scan([str(corpus["folder"])], str(corpus["catalog"]), jobs=1)
    with app_page(sync_playwright, f"{server}/dataset_health") as page:
        expect(page.get_by_role("heading", name="Dataset health")).to_be_visible(
            timeout=TIMEOUT_MS)
        page.get_by_role("tab", name="Missing metadata").click()
        expect(page.get_by_text("Review a track")).to_be_visible(timeout=TIMEOUT_MS)
        page.get_by_role("button", name="Listen to 4 bars").click()
        expect(page.get_by_test_id("stAudio")).to_be_visible(timeout=TIMEOUT_MS)
        page.get_by_role("button", name="Reject").click()
        expect(page.get_by_text("1 tracks labelled by you (0 accepted).")).to_be_visible(
            timeout=TIMEOUT_MS)
        with Catalog(corpus["catalog"]) as catalog:
            assert [e["guitar"] for e in labels.current(catalog)] == [False]
        export = page.get_by_role("button", name="Export labels (JSON)")
        expect(export).to_have_count(1, timeout=TIMEOUT_MS)  # the rerun's stale one gone
        with page.expect_download(timeout=TIMEOUT_MS) as download:  # made on the click
            export.click()
        exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert [e["guitar"] for e in exported["labels"]] == [False]
        page.get_by_role("button", name="Undo (1)").click()
        expect(page.get_by_role("button", name="Undo (0)")).to_be_disabled(
            timeout=TIMEOUT_MS)
        page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
    with Catalog(corpus["catalog"]) as catalog:
        assert labels.current(catalog) == []
