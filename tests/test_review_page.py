"""The review loop on the Dataset health page's Missing metadata tab, through AppTest."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from deeprock.corpus import catalog, labels, scan
from deeprock.music import audio, midi
from deeprock.tab import tab_view
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
    review = next(s for s in app.selectbox if s.label == "Track")
    for row, option in zip(table.itertuples(), review.options, strict=True):
        # channels 1-16 in the table as in the selector (the riff's MIDI channel 2 is "3")
        assert f"track {row.idx} channel {row.channel} " in option
    assert sorted(table["channel"]) == [1, 1]
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
    assert review.options[review.index].startswith("inferred")  # on to the undecided one
    button(app, "Undo (1)").click().run()
    assert not app.exception
    with catalog.Catalog(path) as cat:
        assert labels.current(cat) == []
    assert button(app, "Undo (0)").disabled
    review = next(s for s in app.selectbox if s.label == "Track")
    assert review.options[review.index].startswith("inferred")  # Undo keeps the position
    button(app, "Accept as guitar").click().run()  # on to the other undecided one
    review = next(s for s in app.selectbox if s.label == "Track")
    assert review.options[review.index].startswith("suspicious")
    button(app, "Reject").click().run()  # none undecided left: the selector stays
    review = next(s for s in app.selectbox if s.label == "Track")
    assert review.options[review.index].startswith("suspicious")
    assert review.options[review.index].endswith("[rejected]")


def test_one_file_shows_the_tracks_of_the_file_picked_after_a_search(folder, tmp_path,
                                                                      monkeypatch):
    """Each file's selectors are its own: a track chosen in one file does not carry over (the
    "Tab of" label kept the previous file's track)."""
    path = use(tmp_path, monkeypatch, folder)
    scan.scan([folder], path, jobs=1)
    app = open_page()
    next(t for t in app.text_input if t.label.startswith("Find a file")).set_value("Odd").run()
    tracks = next(f.value for f in app.dataframe if "program" in f.value.columns)
    assert list(tracks["channel"]) == [1, 3, 10]  # numbered 1-16, as the selectors say
    next(s for s in app.selectbox if s.label == "Tab of").select_index(1).run()
    next(s for s in app.selectbox if s.label == "Piano roll of").select_index(1).run()
    before = {s.label: s.id for s in app.selectbox}
    next(t for t in app.text_input if t.label.startswith("Find a file")).set_value("Bare").run()
    assert not app.exception, app.exception
    after = {s.label: s.id for s in app.selectbox}
    # new widgets: the browser kept showing the previous file's track in a reused one
    assert all(after[label] != before[label] for label in ("Tab of", "Piano roll of"))
    shown = {s.label: s.options[s.index] for s in app.selectbox if s.label in ("Tab of",
                                                                               "Piano roll of")}
    assert shown == {"Tab of": "track 0, channel 1: no name (guitar)",
                     "Piano roll of": "track 0, channel 1: no name"}


def test_reruns_parse_a_file_query_the_catalog_and_fret_a_track_once(folder, tmp_path,
                                                                     monkeypatch):
    """Both tabs show Odd.mid (the review's first row, the One file pick; Bare.mid before the
    search): one parse per file stamp across reruns, one review query per catalog stamp (it
    moves once, when the first duplicate search stores its signatures), one fretting per track
    and tuning."""
    path = use(tmp_path, monkeypatch, folder)
    scan.scan([folder], path, jobs=1)
    loads, queries, frets = Counter(), [], []
    load, query, fret = midi.load, catalog.Catalog.missing_metadata, tab_view.track_tab
    monkeypatch.setattr(midi, "load", lambda p: loads.update([Path(p).name]) or load(p))
    monkeypatch.setattr(catalog.Catalog, "missing_metadata",
                        lambda self, *rule: queries.extend(rule) or query(self, *rule))
    monkeypatch.setattr(tab_view, "track_tab", lambda *a: frets.append(a) or fret(*a))
    app = open_page()
    next(t for t in app.text_input if t.label.startswith("Find a file")).set_value("Odd").run()
    app.run()
    app.run()
    assert not app.exception, app.exception
    assert any("E4|" in block.value for block in app.code)
    # the first visit's duplicate search builds its store in the catalog: one write, so one
    # more query at most; from then on reruns query nothing
    assert loads == {"Odd.mid": 1, "Bare.mid": 1} and len(queries) <= 2
    settled = len(queries)
    app.run()
    assert len(queries) == settled
    assert len(frets) == 2  # Bare.mid's track, then Odd.mid's
    next(s for s in app.selectbox if s.label == "Tuning").set_value("drop-d").run()
    assert loads == {"Odd.mid": 1, "Bare.mid": 1} and len(frets) == 3
    odd = folder / "band" / "Odd.mid"
    os.utime(odd, ns=(odd.stat().st_atime_ns, odd.stat().st_mtime_ns + 10**9))
    app.run()
    assert not app.exception and loads["Odd.mid"] == 2  # a changed file is read again


def test_review_table_and_selector_are_paged(folder, tmp_path, monkeypatch):
    """A page of rows in the table and the selector, as the other tables (one row a page
    here, 200 on the page); a decision goes on to the next undecided track on its page. The
    labels' caption is counted per rerun, their export made only when asked for."""
    from deeprock.app import ui

    path = use(tmp_path, monkeypatch, folder)
    scan.scan([folder], path, jobs=1)
    monkeypatch.setattr(ui, "PAGE_ROWS", 1)
    app = open_page()

    def shown() -> tuple[list[str], list[str]]:
        table = next(frame.value for frame in app.dataframe if "kind" in frame.value.columns)
        review = next(s for s in app.selectbox if s.label == "Track")
        return list(table["kind"]), review.options

    assert app.number_input(key="review_page").value == 1
    kinds, options = shown()
    assert kinds == ["suspicious"] and len(options) == 1 and options[0].startswith("suspicious")
    exports = []
    monkeypatch.setattr(labels, "export_json", lambda cat: exports.append(1) or "{}")
    button(app, "Reject").click().run()
    assert any(c.value == "1 tracks labelled by you (0 accepted)." for c in app.caption)
    assert not exports  # made on the button's click only: a pass over the files per label
    assert app.number_input(key="review_page").value == 2  # on to the inferred track
    kinds, options = shown()
    assert kinds == ["inferred"] and options[0].startswith("inferred")
    app.number_input(key="review_page").set_value(1).run()
    assert not app.exception, app.exception
    kinds, options = shown()
    assert options[0].startswith("suspicious") and options[0].endswith("[rejected]")


def test_review_rows_are_stored_per_scan_and_labelled_per_rerun(folder, tmp_path, monkeypatch):
    """The rows are queried once per data version: a label shows in them without a query
    (the suspicious rule runs in Python on every pitched track); a scan that changes the
    files queries again."""
    from deeprock.app.review_ui import review_rows

    path = use(tmp_path, monkeypatch, folder)
    scan.scan([folder], path, jobs=1)
    with catalog.Catalog(path) as cat:
        first = review_rows(cat)
        assert list(first["kind"]) == ["suspicious", "inferred"]
        assert list(first["label"]) == ["", ""] and first["user_label"].isna().all()
        query = catalog.Catalog.missing_metadata
        monkeypatch.setattr(catalog.Catalog, "missing_metadata", None)
        row = first.iloc[0]
        labels.set_label(cat, row["md5"], int(row["idx"]), int(row["channel"]), False)
        labelled = review_rows(cat)
        assert list(labelled["label"]) == ["rejected", ""]
        assert labelled.drop(columns=["label", "user_label"]).equals(
            first.drop(columns=["label", "user_label"]))
        monkeypatch.setattr(catalog.Catalog, "missing_metadata", query)
        with cat.batch():
            cat.remove_files(str(folder), ["band/Bare.mid"])
        assert list(review_rows(cat)["kind"]) == ["suspicious"]


def test_the_deferred_export_is_the_labels_export(folder, tmp_path, monkeypatch):
    from deeprock.app.review_ui import _exported

    path = use(tmp_path, monkeypatch, folder)
    scan.scan([folder], path, jobs=1)
    with catalog.Catalog(path) as cat:
        md5 = cat.db.execute("SELECT md5 FROM files LIMIT 1").fetchone()[0]
        labels.set_label(cat, md5, 0, 0, True)
        assert _exported(str(path)) == labels.export_json(cat)
        assert labels.decisions(cat) == {(md5, 0, 0): True}
