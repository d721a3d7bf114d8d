"""Training selections: JSON round trip, what they choose, and the health/windows commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deeprock.cli import main
from deeprock.corpus import scan
from deeprock.corpus.catalog import Catalog
from deeprock.corpus.selection import (
    Selection,
    SelectionSettings,
    build_selection,
    selected_keys,
    selection_path,
    track_ids,
)
from tests.test_scan import write_song


@pytest.fixture
def songs(tmp_path) -> Path:
    root = tmp_path / "songs"
    for i in range(4):
        write_song(root / f"band/song{i}.mid", pitch=40 + i)
    (root / "band/copy.mid").write_bytes((root / "band/song0.mid").read_bytes())
    write_song(root / "band/unnamed.mid", program=None)
    scan.scan([root], tmp_path / "c.sqlite", jobs=1)
    return root


def test_selection_round_trips_through_json(tmp_path):
    selection = Selection("c.sqlite", SelectionSettings(seq_len=32, unique_factor=5),
                          [("/r", "a.mid", 1, 0)], ["b.mid"])
    path = tmp_path / "s.json"
    selection.save(path)
    assert Selection.load(path) == selection
    path.write_text(json.dumps({**selection.to_dict(), "version": 99}))
    with pytest.raises(ValueError, match="format 99"):
        Selection.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        Selection.load(path)


def test_build_selection_drops_duplicates_and_follows_metadata(songs, tmp_path):
    with Catalog(tmp_path / "c.sqlite") as catalog:
        from deeprock.corpus.dedup import find_duplicates

        groups = find_duplicates(catalog)
        keep_all = build_selection(catalog, SelectionSettings(one_per_group=[]), groups)
        one_each = build_selection(catalog, SelectionSettings(one_per_group=["exact"]), groups)
        paths = {t[1] for t in keep_all.tracks}
        assert {"band/song0.mid", "band/copy.mid", "band/unnamed.mid"} <= paths
        assert len(one_each.tracks) == len(keep_all.tracks) - 1
        assert one_each.excluded_files in (["band/copy.mid"], ["band/song0.mid"])
        assert len(track_ids(catalog, one_each)) == len(one_each.tracks)
        for selection, kinds in ((keep_all, []), (one_each, ["exact"])):  # the page's route
            keys = selected_keys(catalog, SelectionSettings(one_per_group=kinds), groups)
            assert set(map(tuple, keys.tolist())) == track_ids(catalog, selection)
        assert selection_path(catalog.path).name == "c.selection.json"


def test_windows_command_with_and_without_selection(songs, tmp_path, capsys):
    catalog = str(tmp_path / "c.sqlite")
    assert main(["windows", "--catalog", catalog, "--seq-len", "1", "--unique-factor", "0",
                 "--json"]) == 0
    everything = json.loads(capsys.readouterr().out)
    # six guitar tracks of 3 tokens: 2 windows each, each with one distinct token (> 0)
    assert everything == {"tracks": 6, "windows_total": 12, "windows_kept": 12}
    with Catalog(catalog) as cat:
        selection = build_selection(cat, SelectionSettings(one_per_group=["exact"]), [])
        selection.tracks = selection.tracks[:2]
        selection.save(tmp_path / "s.json")
    assert main(["windows", "--catalog", catalog, "--seq-len", "1", "--unique-factor", "1",
                 "--selection", str(tmp_path / "s.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"tracks": 2, "windows_total": 4,
                                                    "windows_kept": 0}
    assert main(["windows", "--catalog", str(tmp_path / "none.sqlite"), "--json"]) == 2
    assert "no catalog" in capsys.readouterr().err


def test_health_and_duplicates_commands(songs, tmp_path, capsys):
    catalog = str(tmp_path / "c.sqlite")
    assert main(["health", "--catalog", catalog, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files"] == 6 and report["failed"] == 0
    assert report["duplicates"]["exact"] == 1
    assert set(report["guitar_tracks"]) == {"metadata", "inferred"}
    assert set(report) == {"files", "ok", "recovered", "failed", "guitar_files", "guitar_tracks",
                           "missing_metadata_files", "duplicates", "tokens", "vocabulary"}
    assert main(["duplicates", "--catalog", catalog, "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert {"kind": "exact", "files": ["band/copy.mid", "band/song0.mid"]} in groups
