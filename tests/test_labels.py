"""User guitar labels: stored by content, kept across rescans and moves, applied everywhere,
undoable, exported and imported as JSON (library and `deeprock labels`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deeprock.cli import main
from deeprock.corpus import catalog, labels, scan
from deeprock.corpus.selection import SelectionSettings, build_selection
from deeprock.corpus.windows import windows_summary
from tests.conftest import midi_bytes, notes

RIFF = [(i * 240, pitch, 200) for i in range(40) for pitch in (40, 47, 52)]
MELODY = [(i * 480, 72 + (i * 5) % 12, 400) for i in range(40)]


@pytest.fixture
def folder(tmp_path) -> Path:
    """Two songs whose tracks have no program: one riff (inferred guitar), one melody."""
    root = tmp_path / "midi"
    (root / "band").mkdir(parents=True)
    bass = notes(*[(i * 480, 28, 400) for i in range(40)], channel=1, program=33, name="Bass")
    for name, part in (("Riff.mid", RIFF), ("Tune.mid", MELODY)):
        (root / "band" / name).write_bytes(
            midi_bytes([notes(*part, program=None, name=None), bass]))
    return root


def scanned(folder: Path, path: Path) -> catalog.Catalog:
    scan.scan([folder], path, jobs=1)
    return catalog.Catalog(path)


def track(cat: catalog.Catalog, song: str) -> dict:
    return next(row for row in cat.missing_metadata() if row["path"].endswith(song))


def everywhere(cat: catalog.Catalog, song: str) -> dict[str, bool]:
    """Is the song's bare track a guitar for windows, selection, streams and tracks()?"""
    file_id = track(cat, song)["file_id"]
    keys, _ = cat.token_ids()
    selection = build_selection(cat, SelectionSettings(inferred_threshold=0.99), [])
    return {
        "windows": any(key[0] == file_id for key in keys),
        "streams": any(s.file_id == file_id for s in cat.streams()),
        "selection": any(path.endswith(song) for _, path, _, _ in selection.tracks),
        "tracks": bool(cat.tracks(file_id)[0]["guitar"]),
    }


def test_labels_override_inference_in_windows_selection_and_tracks(folder, tmp_path):
    with scanned(folder, tmp_path / "c.sqlite") as cat:
        riff, tune = track(cat, "Riff.mid"), track(cat, "Tune.mid")
        assert riff["guitar_source"] == "inferred" and riff["guitar"]
        assert not tune["guitar"]
        before = windows_summary(cat, 8, 0)["tracks"]
        labels.set_label(cat, riff["md5"], riff["idx"], riff["channel"], False)
        labels.set_label(cat, tune["md5"], tune["idx"], tune["channel"], True)
        assert everywhere(cat, "Riff.mid") == dict.fromkeys(
            ("windows", "streams", "selection", "tracks"), False)
        assert everywhere(cat, "Tune.mid") == dict.fromkeys(
            ("windows", "streams", "selection", "tracks"), True)
        assert windows_summary(cat, 8, 0)["tracks"] == before  # one out, one in
        assert cat.tracks(track(cat, "Tune.mid")["file_id"])[0]["guitar_source"] == "user"
        assert cat.guitar_counts()["user"] == 1
        assert track(cat, "Riff.mid")["user_label"] == 0


def test_undo_takes_back_decisions_newest_first(folder, tmp_path):
    with scanned(folder, tmp_path / "c.sqlite") as cat:
        riff = track(cat, "Riff.mid")
        key = (riff["md5"], riff["idx"], riff["channel"])
        labels.set_label(cat, *key, False)
        labels.set_label(cat, *key, True)
        assert [e["guitar"] for e in labels.current(cat)] == [True]
        assert labels.undo(cat)["guitar"] is True
        assert [e["guitar"] for e in labels.current(cat)] == [False]
        assert labels.undo(cat)["guitar"] is False
        assert labels.current(cat) == [] and labels.undo(cat) is None
        assert everywhere(cat, "Riff.mid")["windows"]  # back to the inference


def test_labels_survive_a_rescan_and_a_moved_file(folder, tmp_path):
    path = tmp_path / "c.sqlite"
    with scanned(folder, path) as cat:
        riff = track(cat, "Riff.mid")
        labels.set_label(cat, riff["md5"], riff["idx"], riff["channel"], False)
    song = folder / "band" / "Riff.mid"
    song.touch()  # changed mtime: parsed again
    moved = folder / "elsewhere" / "Riff (copy).mid"
    with scanned(folder, path) as cat:
        assert not everywhere(cat, "Riff.mid")["windows"]
    moved.parent.mkdir()
    song.rename(moved)
    with scanned(folder, path) as cat:
        report = track(cat, "Riff (copy).mid")
        assert report["user_label"] == 0 and not everywhere(cat, "Riff (copy).mid")["selection"]
        assert labels.current(cat)[0]["path"] == str(moved)


def test_labels_round_trip_through_json_and_the_command(folder, tmp_path, capsys):
    first, second = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    with scanned(folder, first) as cat:
        for song, verdict in (("Riff.mid", False), ("Tune.mid", True)):
            row = track(cat, song)
            labels.set_label(cat, row["md5"], row["idx"], row["channel"], verdict)
        exported = labels.current(cat)
    scanned(folder, second).close()
    out = tmp_path / "labels.json"
    assert main(["labels", "--catalog", str(first), "--export", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "exported": str(out), "labels": 2, "accepted": 1, "rejected": 1}
    assert main(["labels", "--catalog", str(second), "--import", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["imported"] == 2
    assert main(["labels", "--catalog", str(second), "--import", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["imported"] == 0  # nothing new
    with catalog.Catalog(second) as cat:
        strip = [{k: v for k, v in e.items() if k != "decided_at"} for e in labels.current(cat)]
    assert strip == [{k: v for k, v in e.items() if k != "decided_at"} for e in exported]
    assert main(["labels", "--catalog", str(second), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert len(listing["entries"]) == 2 and listing["accepted"] == 1


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "is not JSON"),
    ('{"format": "other"}', "is not a deeprock-labels file"),
    ('{"format": "deeprock-labels", "version": 9, "labels": []}', "labels version 9"),
    ('{"format": "deeprock-labels", "version": 1, "labels": [{"md5": "x", "index": 0, '
     '"channel": 0, "guitar": true}]}', "label 1 needs md5"),
])
def test_bad_label_files_are_one_line_errors(folder, tmp_path, capsys, text, message):
    scanned(folder, tmp_path / "c.sqlite").close()
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    assert main(["labels", "--catalog", str(tmp_path / "c.sqlite"), "--import", str(bad)]) == 2
    error = capsys.readouterr().err
    assert message in error and str(bad) in error and len(error.strip().splitlines()) == 1


def test_catalog_of_schema_2_gains_labels_and_is_rescanned(folder, tmp_path, old_catalog):
    path = tmp_path / "old.sqlite"
    scan.scan([folder], path, jobs=1)
    old_catalog(path, 2)
    with catalog.Catalog(path) as cat:
        assert cat.stale_files() == 2 and labels.current(cat) == []
        riff = track(cat, "Riff.mid")
        labels.set_label(cat, riff["md5"], riff["idx"], riff["channel"], False)
    assert scan.scan([folder], path, jobs=1).new == 2
    with catalog.Catalog(path) as cat:
        assert cat.stale_files() == 0 and not everywhere(cat, "Riff.mid")["windows"]


def test_exported_labels_feed_the_guitar_training_script(folder, tmp_path, monkeypatch):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "train_guitar_model", Path(__file__).parents[1] / "scripts/train_guitar_model.py")
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)
    spec.loader.exec_module(script)
    with scanned(folder, tmp_path / "c.sqlite") as cat:
        for song, verdict in (("Riff.mid", False), ("Tune.mid", True)):
            row = track(cat, song)
            labels.set_label(cat, row["md5"], row["idx"], row["channel"], verdict)
        (tmp_path / "labels.json").write_text(labels.export_json(cat))
    (folder / "band" / "Tune.mid").write_bytes(b"MThd changed")  # no longer the labelled bytes
    extra = script.user_labelled_tracks(tmp_path / "labels.json")
    assert [Path(f).name for f in extra.files] == ["Riff.mid"] and extra.guitar.tolist() == [False]
    assert extra.features.shape == (1, len(script.FEATURE_NAMES))
    assert extra.artists.tolist() == [str(folder / "band")]
