"""The Dataset health page through AppTest: counts, sliders, selection, and bad catalogs."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from deeprock import settings
from deeprock.corpus import demo, scan
from deeprock.corpus.selection import Selection, selection_path
from tests.conftest import midi_bytes, notes

ROOT = Path(__file__).resolve().parents[1]


def use(tmp_path: Path, monkeypatch, folder: Path) -> Path:
    monkeypatch.setenv("DEEPROCK_SETTINGS", str(tmp_path / "settings.json"))
    monkeypatch.chdir(ROOT)
    catalog = tmp_path / "catalog.sqlite"
    settings.save(settings.Settings(str(folder), str(catalog)))
    return catalog


def open_page() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    app.switch_page("pages/dataset_health.py").run()
    assert not app.exception, app.exception
    return app


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def slider(app: AppTest, prefix: str):
    return next(s for s in app.slider if s.label.startswith(prefix))


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    demo.generate(folder, files=40, seed=4)
    return folder


def test_page_counts_sliders_and_selection(demo_folder, tmp_path, monkeypatch):
    catalog = use(tmp_path, monkeypatch, demo_folder)
    scan.scan([demo_folder], catalog, jobs=1)
    app = open_page()
    assert metric(app, "Files") == "40"
    assert int(metric(app, "Failed")) + int(metric(app, "Recovered")) >= 5
    slider(app, "sequence_length").set_value(20).run()
    slider(app, "unique_factor").set_value(2).run()
    kept_low = int(metric(app, "Windows kept").replace(",", ""))
    slider(app, "unique_factor").set_value(10).run()
    assert not app.exception
    kept_high = int(metric(app, "Windows kept").replace(",", ""))
    dropped_high = int(metric(app, "Windows dropped").replace(",", ""))
    assert kept_high < kept_low and kept_high + dropped_high > 0
    windows = [block for block in app.code if "\n" not in block.value]  # a tab has lines
    assert len(windows) == 2  # a dropped (repetitive) window beside a kept one
    next(b for b in app.button if b.label == "Save training selection").click().run()
    saved = Selection.load(selection_path(catalog))
    assert saved.settings.seq_len == 20 and saved.settings.unique_factor == 10
    assert saved.tracks and "Saved" in app.success[0].value


def test_unique_factor_keeps_the_users_value_when_sequence_length_moves(demo_folder, tmp_path,
                                                                       monkeypatch):
    """The slider is a new widget when sequence_length changes its maximum: before, it went
    back to 10 silently."""
    catalog = use(tmp_path, monkeypatch, demo_folder)
    scan.scan([demo_folder], catalog, jobs=1)
    app = open_page()
    slider(app, "unique_factor").set_value(14).run()
    slider(app, "sequence_length").set_value(50).run()
    assert slider(app, "unique_factor").value == 14
    slider(app, "sequence_length").set_value(10).run()  # windows of 10 hold at most 9 distinct
    assert slider(app, "unique_factor").value == 9
    assert any("unique_factor 14 needs windows longer than 10 tokens: 9 for now" in c.value
               for c in app.caption)
    slider(app, "sequence_length").set_value(60).run()
    assert slider(app, "unique_factor").value == 14
    assert not any("needs windows longer" in c.value for c in app.caption)
    app.switch_page("pages/train.py").run()
    app.switch_page("pages/dataset_health.py").run()
    assert slider(app, "unique_factor").value == 14  # and when the user comes back


def test_recovered_files_on_home_show_their_repairs_and_no_none(demo_folder, tmp_path,
                                                                 monkeypatch):
    catalog = use(tmp_path, monkeypatch, demo_folder)
    scan.scan([demo_folder], catalog, jobs=1)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    table = next(f.value for f in app.dataframe if "repairs" in f.value.columns)
    recovered = table[table["status"] == "recovered"]
    assert len(recovered) and (recovered["error"] == "").all()
    assert (recovered["repairs"] != "").all()
    assert not table["error"].isna().any()


def test_count_charts_tick_whole_numbers():
    from deeprock.app import render

    few = render.bars(["a", "b"], [3, 1], horizontal=True)
    assert (few.layout.xaxis.dtick, few.layout.xaxis.tickformat) == (1, ",d")
    many = render.bars(["a", "b"], [300, 1])
    assert many.layout.yaxis.dtick is None and many.layout.yaxis.tickformat == ",d"


def test_page_explains_a_missing_and_an_empty_catalog(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    catalog = use(tmp_path, monkeypatch, empty)
    assert "No catalog" in open_page().info[0].value
    scan.scan([empty], catalog)
    assert "holds no files" in open_page().info[0].value


def test_page_warns_when_there_is_no_guitar(tmp_path, monkeypatch):
    folder = tmp_path / "piano"
    folder.mkdir()
    (folder / "piano.mid").write_bytes(midi_bytes([notes((0, 60, 480), (480, 64, 480),
                                                         program=0, name="Piano")]))
    catalog = use(tmp_path, monkeypatch, folder)
    scan.scan([folder], catalog)
    app = open_page()
    assert "No guitar track" in app.warning[0].value


def test_page_upgrades_an_older_catalog(demo_folder, tmp_path, monkeypatch, old_catalog):
    catalog = use(tmp_path, monkeypatch, demo_folder)
    scan.scan([demo_folder], catalog, jobs=1)
    old_catalog(catalog, 1)
    app = open_page()
    assert "upgraded from an older version: 40 files" in app.warning[0].value


def test_repairs_are_counted_by_kind(demo_folder, tmp_path):
    from deeprock.corpus import health
    from deeprock.corpus.catalog import Catalog

    scan.scan([demo_folder], tmp_path / "c.sqlite", jobs=1)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        counts = health.repair_counts(catalog)
        recovered = catalog.status_counts()["recovered"]
    assert sum(counts.values()) >= recovered >= 5
    assert "removed RIFF/RMID wrapper" in counts
    assert all(not any(ch.isdigit() for ch in kind.replace("127", "")) for kind in counts)


def test_duplicate_groups_list_each_file_on_its_own_row_in_full(demo_folder, tmp_path,
                                                                 monkeypatch):
    catalog = use(tmp_path, monkeypatch, demo_folder)
    scan.scan([demo_folder], catalog, jobs=1)
    app = open_page()
    tables = [t.value for t in app.table if "file" in t.value.columns]
    assert tables, "no duplicate group table"
    paths = {path for table in tables for path in table["file"]}
    assert paths and all(" | " not in path and (demo_folder / path).is_file()
                         for path in paths)  # whole paths, one a row, never joined or cut
    assert all(table.index.name == "group" and table.index.min() == 1 for table in tables)


def test_paths_are_read_for_the_shown_rows_only(demo_folder, tmp_path, monkeypatch):
    """file_paths(ids) is file_keys() narrowed to the ids, ids_with_paths its inverse;
    window_breakdown's page names its songs as file_keys() does without reading it (a
    million-entry dict at scale)."""
    import numpy as np

    from deeprock.corpus import health, token_store
    from deeprock.corpus.catalog import Catalog
    from deeprock.corpus.windows import WindowStats

    scan.scan([demo_folder], tmp_path / "c.sqlite", jobs=1)
    with Catalog(tmp_path / "c.sqlite") as catalog:
        everything = catalog.file_keys()
        some = sorted(everything)[::3]
        assert catalog.file_paths(some) == {i: everything[i] for i in some}
        assert catalog.file_paths(np.array(some[:2])) == {i: everything[i] for i in some[:2]}
        assert catalog.file_paths([]) == {} and catalog.file_paths([10**9]) == {}
        named = [everything[i][1] for i in some] + ["no/such.mid"]
        assert sorted(catalog.ids_with_paths(named)) == some  # the selection's exclusions
        stats = WindowStats.from_arrays(*token_store.guitar_arrays(catalog), 20)
        songs = health.song_index(stats.keys[:, 0])
        monkeypatch.setattr(Catalog, "file_keys", None)  # not called by the breakdown
        pages = [health.window_breakdown(stats, songs, catalog, 3, slice(start, start + 7))
                 for start in (0, 7)]
        kept, total = stats.per_track(3)
        by_song: dict[str, list[int]] = {}
        for key, track_kept, track_total in zip(stats.keys.tolist(), kept, total,
                                                strict=True):
            counts = by_song.setdefault(everything[key[0]][1], [0, 0])
            counts[0] += int(track_kept)
            counts[1] += int(track_total)
        for page in pages:
            assert page and all(by_song[row["path"]] == [row["kept"], row["windows"]]
                                for row in page)
        assert [row["dropped"] for row in pages[0] + pages[1]] == sorted(
            (total - kept for kept, total in by_song.values() if total), reverse=True)[:14]


def test_failed_files_are_paged(tmp_path, monkeypatch):
    from deeprock.app import ui

    folder = tmp_path / "songs"
    folder.mkdir()
    (folder / "riff.mid").write_bytes(midi_bytes([notes((0, 52, 480), (480, 55, 480))]))
    for name in ("a.mid", "b.mid"):
        (folder / name).write_bytes(b"not a MIDI file")
    catalog = use(tmp_path, monkeypatch, folder)
    scan.scan([folder], catalog, jobs=1)
    monkeypatch.setattr(ui, "PAGE_ROWS", 1)
    app = open_page()
    assert any(c.value == "Files that could not be read (2)" for c in app.caption)
    pages = [next(f.value for f in app.dataframe if "error" in f.value.columns)]
    app.number_input(key="failures_page").set_value(2).run()
    pages.append(next(f.value for f in app.dataframe if "error" in f.value.columns))
    assert [list(page["path"]) for page in pages] == [["a.mid"], ["b.mid"]]
