"""The artist judge: 8-bar windows, their features, training on a demo catalog, JSON round trip."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from deeprock.corpus.catalog import Catalog
from deeprock.generation.judge import (
    ArtistJudge,
    JudgeError,
    catalog_judge,
    judge_path,
    judge_rows,
)
from deeprock.generation.judge_features import (
    FEATURE_NAMES,
    WINDOW_BARS,
    Window,
    cut_windows,
    window_features,
)
from deeprock.generation.riff import Riff
from tests.training_fixtures import demo_catalog


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location(
        "train_artist_judge", Path(__file__).parents[1] / "scripts/train_artist_judge.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, script):
    """A tiny judge of the demo artists with 3 files or more, saved beside its catalog."""
    catalog = demo_catalog(tmp_path_factory.mktemp("judge"), files=60)
    assert script.main(["--catalog", str(catalog), "--min-files", "3", "--max-iter", "8"]) == 0
    return catalog, ArtistJudge.load(judge_path(catalog))


def test_windows_are_cut_at_bar_lines_and_thin_ones_dropped():
    onsets = np.arange(0, 20 * 48, 12)  # quarters over 20 bars, from bar 0
    chords = [[40, 47]] * len(onsets)
    windows = cut_windows(onsets + 48, chords, np.full(len(onsets), 12))  # starts in bar 1
    assert [len(w.chords) for w in windows] == [32, 32, 16]
    assert windows[0].onsets_twelfths[0] == 0 and windows[0].bars == WINDOW_BARS
    assert not cut_windows(np.array([0, 12]), [[40], [40]], np.array([12, 12]))  # too thin
    short = cut_windows(np.array([0, 12]), [[40], []], np.array([12, 12]), short_ok=True)
    assert len(short) == 1 and short[0].bars == 1 and short[0].chords == [[40]]  # <unk> is silent


def test_features_say_what_the_window_plays():
    window = Window(np.array([0, 6, 12, 18]), [[40, 47], [40, 47], [43, 50], [45]],
                    np.array([6, 6, 6, 6]), bars=1)
    features = dict(zip(FEATURE_NAMES, window_features(window), strict=True))
    assert len(FEATURE_NAMES) == len(window_features(window))
    assert features["pitch_class_4"] == pytest.approx(2 / 7)  # E twice in seven notes
    assert features["relative_pitch_class_0"] == pytest.approx(2 / 7)
    assert features["gap_4"] == 1.0  # every gap an eighth (6 twelfths)
    assert features["beat_position_0"] == 0.5 and features["beat_position_6"] == 0.5
    assert features["power_chord_share"] == 0.75 and features["notes_per_onset"] == 1.75
    assert (features["pitch_min"], features["pitch_max"]) == (40, 50)
    assert features["onsets_per_bar"] == 4 and features["playing_bar_share"] == 1
    single = window_features(Window(np.array([0]), [[60]], np.array([3]), bars=1))
    assert np.isfinite(single).all()


def test_judge_round_trips_through_json_with_identical_probabilities(trained, tmp_path):
    catalog, judge = trained
    assert len(judge.artists) >= 5 and judge.info["held_out_scores"]["windows"] > 0
    with Catalog(catalog) as cat:
        stream = next(cat.streams())
        tokens = [cat.vocabulary.tokens[i] for i in stream.ids]
    riff = Riff(tokens, stream.delta, stream.duration)
    rows = np.array([window_features(w) for w in cut_windows(
        riff.onsets_twelfths(), riff.chords(), riff.duration_twelfths)])
    judge.save(tmp_path / "again.json")
    again = ArtistJudge.load(tmp_path / "again.json")
    assert np.array_equal(again.probabilities(rows), judge.probabilities(rows))
    assert again.to_dict() == judge.to_dict()
    assert (tmp_path / "again.json").read_bytes() == judge_path(catalog).read_bytes()
    top = judge.top_artists(riff, k=3)
    assert len(top) == 3 and [p for _, p in top] == sorted((p for _, p in top), reverse=True)
    assert top[0][1] == pytest.approx(judge.judge(riff).max())
    assert judge.probabilities(rows).sum(axis=1) == pytest.approx(np.ones(len(rows)))


@pytest.mark.parametrize(("change", "message"), [
    ({"format": "pickle"}, "not a deeprock-artist-judge"),
    ({"version": 9}, "model version 9"),
    ({"feature_names": ["x"]}, "feature names differ"),
    ({"artists": ["a", "b", "c"]}, "3 artists do not match"),
    ({"left": [0]}, "differ in length"),
])
def test_a_broken_judge_file_is_a_clear_error(trained, tmp_path, change, message):
    data = {**trained[1].to_dict(), **change}
    path = tmp_path / "judge.json"
    path.write_text(json.dumps(data))
    with pytest.raises(JudgeError, match=message) as caught:
        ArtistJudge.load(path)
    assert str(path) in str(caught.value)


def test_a_silent_riff_cannot_be_judged(trained):
    with pytest.raises(JudgeError, match="sounds no note"):
        trained[1].top_artists(Riff([], np.zeros(0), np.zeros(0)))


def test_the_riff_statistics_row_names_the_judges_top_three(trained, tmp_path):
    catalog, judge = trained
    assert catalog_judge(tmp_path / "none.sqlite") is None
    assert catalog_judge(catalog).to_dict() == judge.to_dict()
    with Catalog(catalog) as cat:
        stream = next(cat.streams())
        tokens = [cat.vocabulary.tokens[i] for i in stream.ids]
    riff = Riff(tokens, stream.delta, stream.duration, primer_length=4)
    [row] = judge_rows(judge, riff)
    top = judge.top_artists(riff.generated(), k=3)
    assert row["riff"] == ", ".join(f"{artist} {p:.0%}" for artist, p in top)
    assert row["dataset"].startswith("judge's top-1 on unseen songs: 0.")
    assert judge_rows(None, riff) == []
