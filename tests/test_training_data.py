"""Training data without Keras: the split by song, the run vocabulary, windows, baselines."""

from __future__ import annotations

import json
import os

import mido
import numpy as np
import pytest

from deeprock.corpus.catalog import Catalog
from deeprock.corpus.dedup import find_duplicates
from deeprock.corpus.scan import scan
from deeprock.corpus.selection import Selection, SelectionSettings
from deeprock.corpus.windows import WindowStats
from deeprock.training.baselines import NgramBaseline
from deeprock.training.config import RunConfig
from deeprock.training.split import DataError, DataSettings, build_training_data
from deeprock.training.train import load_data, selection_tracks
from deeprock.training.vocab import LONGER, UNK, RunVocabulary, rhythm_classes
from tests.conftest import midi_bytes, notes
from tests.training_fixtures import demo_catalog


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory) -> str:
    return str(demo_catalog(tmp_path_factory.mktemp("training-data")))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_file_and_no_duplicate_group_on_both_sides(catalog_path, seed):
    with Catalog(catalog_path) as catalog:
        data = build_training_data(catalog, DataSettings(seq_len=16, unique_factor=2,
                                                         validation_share=0.3, split_seed=seed))
        paths = catalog.file_keys()
        groups = find_duplicates(catalog)
    train = {paths[f][1] for f in data.train.files}
    held_out = {paths[f][1] for f in data.validation.files}
    assert train and held_out and not train & held_out
    assert any(len(g.files) > 1 for g in groups)
    for group in groups:
        sides = {("train" if path in train else "validation") for path in group.files
                 if path in train | held_out}
        assert len(sides) <= 1, f"{group.kind} group split across sides: {group.files}"


def test_artist_split_keeps_each_folder_on_one_side(catalog_path):
    with Catalog(catalog_path) as catalog:
        data = build_training_data(catalog, DataSettings(seq_len=16, unique_factor=2,
                                                         validation_share=0.3,
                                                         split_by="artist"))
        paths = catalog.file_keys()
    folders = [{os.path.dirname(paths[f][1]) for f in side.files}
               for side in (data.train, data.validation)]
    assert folders[0] and folders[1] and not folders[0] & folders[1]


def test_vocabulary_is_the_training_side_only_with_rare_tokens_as_unk(catalog_path):
    with Catalog(catalog_path) as catalog:
        data = build_training_data(catalog, DataSettings(seq_len=16, unique_factor=4, min_count=3))
        tokens = catalog.vocabulary.tokens
    vocabulary = data.vocabulary
    assert vocabulary.tokens[0] == UNK
    counts = np.bincount(data.train.catalog_ids, minlength=len(tokens))
    assert set(vocabulary.tokens[1:]) == {tokens[i] for i in np.flatnonzero(counts >= 3)}
    assert vocabulary.counts[0] == int(counts[counts < 3].sum())
    rare = counts[data.validation.catalog_ids] < 3
    assert (data.validation.ids[rare] == 0).all() and (data.validation.ids[~rare] > 0).all()


def test_windows_are_the_health_page_counts(catalog_path):
    settings = DataSettings(seq_len=20, unique_factor=6, validation_share=0.0)
    with Catalog(catalog_path) as catalog:
        data = build_training_data(catalog, settings)
        stats = WindowStats.from_catalog(catalog, 20)
    assert len(data.train_starts) == stats.kept(6)
    for start in data.train_starts[:50]:
        assert len(np.unique(data.train.catalog_ids[start:start + 20])) > 6
        track = np.searchsorted(data.train.offsets, start, side="right") - 1
        assert start + 20 < data.train.offsets[track + 1]  # the target stays in the track


def test_run_vocabulary_and_config_round_trip(tmp_path, catalog_path):
    vocabulary = RunVocabulary.from_counts(["E4", "A4", "E2 B2 E3"], np.array([5, 1, 3]), 2)
    vocabulary.save(tmp_path / "vocab.json")
    assert RunVocabulary.load(tmp_path / "vocab.json") == vocabulary
    assert vocabulary.tokens == [UNK, "E4", "E2 B2 E3"] and vocabulary.counts == [1, 5, 3]
    config = RunConfig(catalog=catalog_path, facts={"device": "CPU"})
    config.model.units, config.data.seq_len = 32, 48
    config.save(tmp_path / "config.json")
    text = (tmp_path / "config.json").read_text()
    loaded = RunConfig.load(tmp_path / "config.json")
    assert loaded == config
    loaded.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == text


def test_newer_formats_are_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"format": 99, "catalog": "x"}))
    with pytest.raises(ValueError, match="newer"):
        RunConfig.load(tmp_path / "config.json")
    (tmp_path / "vocab.json").write_text(json.dumps({"version": 7, "tokens": [UNK]}))
    with pytest.raises(ValueError, match="format"):
        RunVocabulary.load(tmp_path / "vocab.json")


def test_rhythm_classes_clip_at_four_bars():
    assert rhythm_classes(np.array([0, 3, 192, 193, 5000])).tolist() == [0, 3, 192, LONGER,
                                                                         LONGER]


def test_trigram_against_brute_force():
    ids = np.array([1, 2, 3, 1, 2, 3, 1, 2, 4, 2, 3], dtype=np.int32)
    offsets = np.array([0, 6, 11])
    model = NgramBaseline.fit(ids, offsets, 5)
    targets = np.array([2, 5, 8, 10])
    _, mixed = model.probabilities(ids, offsets, targets)
    tracks = [ids[0:6].tolist(), ids[6:11].tolist()]

    def count(gram):
        return sum(tuple(t[i:i + len(gram)]) == gram for t in tracks
                   for i in range(len(t) - len(gram) + 1))

    def context(gram):  # contexts followed by a token in the same track
        return sum(tuple(t[i:i + len(gram)]) == gram for t in tracks
                   for i in range(len(t) - len(gram)))

    for target, probability in zip(targets, mixed, strict=True):
        w, p1, p2 = ids[target], ids[target - 1], ids[target - 2]
        start = offsets[np.searchsorted(offsets, target, side="right") - 1]
        tri = count((p2, p1, w)) / context((p2, p1)) if target - 2 >= start else 0
        bi = count((p1, w)) / context((p1,)) if target - 1 >= start else 0
        uni = (np.sum(ids == w) + 1) / (len(ids) + 5)
        assert probability == pytest.approx(0.4 * tri + 0.4 * bi + 0.2 * uni)


def test_catalog_without_guitar_tracks_is_refused(tmp_path):
    drums = notes((0, 36, 100), (240, 38, 100), channel=9, program=None, name="Drums")
    (tmp_path / "songs").mkdir()
    (tmp_path / "songs" / "drums.mid").write_bytes(midi_bytes([drums]))
    scan([str(tmp_path / "songs")], str(tmp_path / "c.sqlite"), jobs=1)
    with Catalog(tmp_path / "c.sqlite") as catalog, pytest.raises(DataError,
                                                                   match="no guitar track"):
        build_training_data(catalog, DataSettings())


def test_seq_len_longer_than_every_track_is_refused(catalog_path):
    with Catalog(catalog_path) as catalog, pytest.raises(DataError, match="longer than every"):
        build_training_data(catalog, DataSettings(seq_len=100_000))


def test_selection_whose_catalog_is_gone_or_rescanned(tmp_path, catalog_path):
    gone = Selection(str(tmp_path / "gone.sqlite"), SelectionSettings(), [("r", "a.mid", 0, 0)])
    gone.save(tmp_path / "gone.json")
    with Catalog(catalog_path) as catalog, pytest.raises(DataError, match="gone"):
        selection_tracks(catalog, str(tmp_path / "gone.json"))
    other = Selection(catalog_path, SelectionSettings(), [("elsewhere", "a.mid", 0, 0)])
    other.save(tmp_path / "other.json")
    with Catalog(catalog_path) as catalog, pytest.raises(DataError, match="rescanned"):
        selection_tracks(catalog, str(tmp_path / "other.json"))


def test_selection_too_small_for_a_validation_window(tmp_path, catalog_path):
    with Catalog(catalog_path) as catalog:
        root, path = next(iter(catalog.file_keys().values()))
        index, channel = next((t["idx"], t["channel"]) for t in catalog.tracks()
                              if t["guitar"] and catalog.file_keys()[t["file_id"]][1] == path)
    Selection(catalog_path, SelectionSettings(), [(root, path, index, channel)]).save(
        tmp_path / "one.json")
    config = RunConfig(catalog=catalog_path, selection=str(tmp_path / "one.json"))
    with pytest.raises(DataError, match=r"too few|validation"):
        load_data(config)


def test_no_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no catalog"):
        load_data(RunConfig(catalog=str(tmp_path / "missing.sqlite")))


def test_midi_is_never_parsed_again(monkeypatch, catalog_path):
    import deeprock.music.midi

    monkeypatch.setattr(deeprock.music.midi, "load", lambda *_: pytest.fail("MIDI parsed"))
    monkeypatch.setattr(mido, "MidiFile", lambda *_: pytest.fail("MIDI parsed"))
    with Catalog(catalog_path) as catalog:
        data = build_training_data(catalog, DataSettings(seq_len=16, unique_factor=4))
    assert data.train.tokens > 0
