"""The review loop on the Dataset health page's Missing metadata tab, through AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest

from deeprock.corpus import catalog, labels, scan
from deeprock.music import audio
from tests.conftest import midi_bytes, notes
from tests.test_health_page import open_page, use

RIFF = [(i * 240, pitch, 200) for i in range(40) for pitch in (40, 47, 52)]
BASS_LINE = [(i * 480, (28, 31, 33, 26)[(i // 4) % 4], 460) for i in range(32)]


@pytest.fixture
def folder(tmp_path) -> Path:
    """A riff without a program (inferred) and a "Guitar" program playing a bass line."""
    root = tmp_path / "songs" / "band"
    root.mkdir(parents=True)
    drums = notes(*[(i * 480, 36 + 2 * (i % 2), 60) for i in range(32)], channel=9, program=None)
    (root / "Bare.mid").write_bytes(midi_bytes([notes(*RIFF, program=None, name=None)]))
    (root / "Odd.mid").write_bytes(midi_bytes([
        notes(*BASS_LINE, program=29, name="Guitar"), notes(*RIFF, channel=2, program=30),
        drums]))
    return root.parent


def button(app, label: str):
    return next(b for b in app.button if b.label.startswith(label))


def test_review_lists_listens_labels_and_undoes(folder, tmp_path, monkeypatch):
    path = use(tmp_path, monkeypatch, folder)
    scan.scan([folder], path, jobs=1)
    app = open_page()
    table = next(frame.value for frame in app.dataframe if "kind" in frame.value.columns)
    assert sorted(table["kind"]) == ["inferred", "suspicious"]
    assert any("1 tracks have a guitar program but notes that say otherwise" in m.value
               for m in app.markdown)
    review = next(s for s in app.selectbox if s.label == "Track")
    review.select_index(next(i for i, option in enumerate(review.options)
                             if option.startswith("suspicious"))).run()
    button(app, "Listen to").click().run()
    assert not app.exception, app.exception
    cached = list(Path(path).with_suffix(".review").glob("*.wav"))
    try:
        audio.find_soundfont()
        audio.fluidsynth_binary()
    except audio.AudioUnavailable as missing:  # said on the page, with the install command
        assert any(str(missing) in w.value for w in app.warning) and not cached
    else:
        assert len(cached) == 1 and cached[0].stat().st_size > 44
    button(app, "Reject").click().run()
    with catalog.Catalog(path) as cat:
        assert [entry["guitar"] for entry in labels.current(cat)] == [False]
        odd = next(t for t in cat.tracks() if t["program"] == 29)
        assert odd["guitar"] == 0 and odd["guitar_source"] == "user"
    review = next(s for s in app.selectbox if s.label == "Track")
    assert any(option.startswith("suspicious") and option.endswith("[rejected]")
               for option in review.options)
    button(app, "Undo (1)").click().run()
    assert not app.exception
    with catalog.Catalog(path) as cat:
        assert labels.current(cat) == []
    assert button(app, "Undo (0)").disabled
