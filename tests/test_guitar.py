"""Guitar decisions: the metadata rules, the JSON tree model, and inference on stripped files."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import mido
import numpy as np
import pytest

from deeprock.corpus import demo
from deeprock.music import guitar, guitar_context, midi
from deeprock.music.guitar_features import FEATURE_NAMES, track_features
from tests.conftest import midi_bytes, notes

POWER_RIFF = [(i * 240, pitch, 200) for i in range(32) for pitch in (40, 47, 52)]


def load(*tracks: list) -> midi.Song:
    return midi.load_bytes(midi_bytes([[mido.MetaMessage("set_tempo", tempo=500_000)], *tracks]))


@pytest.mark.parametrize(("program", "name", "channel", "guitar_", "source"), [
    (29, "Track 1", 0, True, "metadata"),
    (30, None, 0, True, "metadata"),
    (33, "Lead Gtr", 0, False, "metadata"),  # the program wins over the name
    (None, "Lead Gtr", 0, True, "metadata"),
    (None, "Chitarra ritmica", 0, True, "metadata"),
    (None, "Gitaar", 0, True, "metadata"),
    (None, "Bass Guitar", 0, None, "inferred"),  # a bass part, whatever the word guitar says
    (29, "Guitar", 9, False, "metadata"),  # the drum channel, whatever it claims
    (None, None, 9, False, "metadata"),
    (None, "Track 2", 0, None, "inferred"),
    (None, None, 0, None, "inferred"),
])
def test_decide_uses_metadata_first(program, name, channel, guitar_, source):
    song = load(notes(*POWER_RIFF, channel=channel, program=program, name=name))
    decision = guitar.decide(song, song.tracks[0])
    assert decision.source == source
    if source == "metadata":
        assert decision.guitar is guitar_ and decision.probability == float(guitar_)
    else:
        assert 0.0 <= decision.probability <= 1.0
        assert decision.guitar is (decision.probability >= guitar.INFERRED_THRESHOLD)
        assert decision.reason == f"inferred from the notes: p={decision.probability:.2f}"


def test_by_metadata_leaves_a_bare_track_undecided():
    song = load(notes(*POWER_RIFF, program=None, name="Track 2"))
    assert guitar.by_metadata(song.tracks[0]).source is None


def test_features_of_a_power_chord_riff():
    song = load(notes(*POWER_RIFF, program=None, name=None))
    values = dict(zip(FEATURE_NAMES, track_features(song, song.tracks[0]), strict=True))
    assert values["notes_per_onset"] == 3 and values["power_chord_share"] == 1
    assert (values["pitch_min"], values["pitch_max"]) == (40, 52)
    assert values["onsets_per_beat"] == pytest.approx(2, rel=0.05)
    assert values["sixteenth_grid_share"] == 1 and values["bar_repeat_share"] == 1
    assert values["pitch_rank"] == 0.5 and values["pitched_tracks"] == 1


def test_features_of_a_single_note_are_finite():
    song = load(notes((0, 60, 480), program=None, name=None))
    features = track_features(song, song.tracks[0])
    assert features.shape == (len(FEATURE_NAMES),) and np.isfinite(features).all()


# a hand-made model: tree 1 asks "pitch_median <= 50?", tree 2 is a single leaf
TINY = {
    "format": guitar.MODEL_FORMAT, "version": guitar.MODEL_VERSION,
    "feature_names": list(FEATURE_NAMES), "baseline": 0.5, "roots": [0, 3],
    "feature": [FEATURE_NAMES.index("pitch_median"), 0, 0, 0],
    "split": [50.0, 0.0, 0.0, 0.0], "left": [1, -1, -1, -1], "right": [2, -1, -1, -1],
    "value": [0.0, -2.0, 2.0, 0.25], "info": {"note": "hand-made"},
}


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.mark.parametrize(("pitch_median", "raw"), [(45, 0.5 - 2 + 0.25), (50, 0.5 - 2 + 0.25),
                                                    (51, 0.5 + 2 + 0.25)])
def test_tiny_model_gives_known_probabilities(pitch_median, raw):
    features = np.zeros(len(FEATURE_NAMES))
    features[FEATURE_NAMES.index("pitch_median")] = pitch_median
    model = guitar.TreeEnsemble.from_dict(TINY)
    assert model.probability(features) == pytest.approx(sigmoid(raw), abs=1e-12)


def test_tiny_model_drives_infer_and_round_trips(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(TINY))
    model = guitar.load_model(path)
    assert model.to_dict() == TINY
    song = load(notes(*POWER_RIFF, program=None, name=None))  # median pitch 47: left leaf
    decision = guitar.infer(song, song.tracks[0], model)
    assert decision.probability == pytest.approx(sigmoid(-1.25)) and not decision.guitar


@pytest.mark.parametrize(("change", "message"), [
    ({"format": "onnx"}, "not a deeprock-guitar-trees model"),
    ({"version": 2}, "model version 2"),
    ({"feature_names": list(FEATURE_NAMES[:-1])}, "feature names differ"),
    ({"left": [0, -1, -1, -1]}, "malformed"),  # a node that is its own child: a cycle
    ({"right": [2, -1, 9, -1]}, "malformed"),
    ({"feature": [len(FEATURE_NAMES), 0, 0, 0]}, "malformed"),
    ({"value": [0.0, -2.0, 2.0]}, "differ in length"),
    ({"split": "fifty"}, "unreadable"),
    ({"roots": []}, "no trees"),
])
def test_broken_model_is_a_clear_error(tmp_path, change, message):
    path = tmp_path / "model.json"
    path.write_text(json.dumps({**TINY, **change}))
    with pytest.raises(guitar.GuitarModelError, match=message) as caught:
        guitar.load_model(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("content", [None, "{not json"])
def test_missing_or_unparsable_model_file(tmp_path, content):
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(guitar.GuitarModelError, match=str(path)):
        guitar.load_model(path)


def test_shipped_model_structure():
    assert guitar.MODEL_PATH.stat().st_size < 1_500_000
    model = guitar.shipped_model()
    assert model.feature_names == FEATURE_NAMES
    assert model.to_dict() == json.loads(guitar.MODEL_PATH.read_text())
    assert len(model.trees.roots) == model.info["config"]["max_iter"]
    scores = model.info["cross_validation"]
    assert scores["split"] == "artist" and scores["threshold"] == guitar.INFERRED_THRESHOLD
    # on artists the model never saw, as recorded; the training script prints more
    assert scores["f1"] > 0.74 and scores["auc"] > 0.86


def stripped(data: bytes) -> bytes:
    """The file without program changes or track names: its metadata is gone."""
    source = mido.MidiFile(file=io.BytesIO(data))
    bare = mido.MidiFile(type=source.type, ticks_per_beat=source.ticks_per_beat)
    for track in source.tracks:
        kept, carried = mido.MidiTrack(), 0
        for message in track:
            if message.type in ("program_change", "track_name"):
                carried += message.time  # keep later events at their times
                continue
            kept.append(message.copy(time=message.time + carried))
            carried = 0
        bare.tracks.append(kept)
    out = io.BytesIO()
    bare.save(file=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def stripped_demo(tmp_path_factory) -> list[tuple]:
    """(true role, track, decision, features) for every track of a stripped 40-file demo."""
    folder = tmp_path_factory.mktemp("demo")
    demo.generate(folder, files=40, seed=2)
    manifest = json.loads((folder / demo.MANIFEST).read_text())["files"]
    found = []
    for entry in manifest:
        if entry["kind"] == "corrupt":
            continue
        song = midi.load_bytes(stripped((folder / entry["path"]).read_bytes()), entry["path"])
        for track in song.tracks:
            assert track.program is None and track.name == ""
            found.append((entry["roles"][track.index - 1], track, guitar.decide(song, track),
                          track_features(song, track)))
    return found


def test_stripped_demo_guitars_are_inferred(stripped_demo):
    """Riffs and strums all; the sparse single-note solo licks are the misses (F1 0.92 here)."""
    roles = {role for role, *_ in stripped_demo}
    assert roles == {"guitar", "bass", "drums"}
    truth = np.array([role == "guitar" for role, *_ in stripped_demo])
    said = np.array([decision.guitar for _, _, decision, _ in stripped_demo])
    hits = np.count_nonzero(truth & said)
    f1 = 2 * hits / (np.count_nonzero(truth) + np.count_nonzero(said))
    assert f1 >= 0.85, f"F1 {f1:.3f} on {truth.sum()} guitar tracks of {len(truth)}"
    probability = np.array([decision.probability for _, _, decision, _ in stripped_demo])
    assert np.median(probability[truth]) >= 0.8
    per_onset = FEATURE_NAMES.index("notes_per_onset")
    chordal = np.array([features[per_onset] >= 2 for _, _, _, features in stripped_demo])
    assert truth[chordal].sum() >= 20 and said[truth & chordal].all()


def test_stripped_demo_bass_and_drums_are_not_guitars(stripped_demo):
    for role, track, decision, _ in stripped_demo:
        if role == "drums":
            assert decision == guitar.by_metadata(track) and not decision.guitar
        elif role == "bass":
            assert decision.source == "inferred" and decision.probability < 0.3


def test_stripped_music21_files_are_mostly_not_guitars(music21_midi_files: list[Path]):
    """Piano pieces, a wind and string orchestra, chorales: none of it is guitar music."""
    decisions = []
    for path in music21_midi_files:
        song = midi.load_bytes(stripped(path.read_bytes()), path.name)
        decisions += [guitar.decide(song, t) for t in song.tracks if len(t.notes) >= 100]
    assert len(decisions) >= 15 and all(d.source == "inferred" for d in decisions)
    assert sum(not d.guitar for d in decisions) / len(decisions) >= 0.8


@pytest.mark.parametrize(("pitches", "standard", "drop"), [
    ((40, 47, 52), True, True),           # E5 power chord, open
    ((40, 47, 52, 56, 59, 64), True, True),  # open E major
    ((38, 45, 50), False, True),          # D5 on the open low string of drop-D
    ((43, 50, 55, 59, 67), True, True),   # G major, barre at the third fret
    ((60, 61, 62), False, False),         # a keyboard cluster of seconds
    ((36, 43), False, False),             # below the guitar
    ((40, 41, 42, 43, 44, 45, 46), False, False),  # seven notes
    ((40, 64, 88), False, False),         # four octaves: no hand spans it
])
def test_chords_playable_on_six_strings(pitches, standard, drop):
    assert guitar_context.playable(pitches, guitar_context.STANDARD_TUNING) is standard
    assert guitar_context.playable(pitches, guitar_context.DROP_D_TUNING) is drop


def test_role_of_a_riff_above_a_bass_and_below_a_melody():
    riff = notes(*POWER_RIFF, program=None, name=None)
    bass = notes(*[(i * 480, 28, 400) for i in range(16)], channel=1, program=None, name=None)
    melody = notes(*[(i * 480, 76, 400) for i in range(16)], channel=2, program=None, name=None)
    song = load(riff, bass, melody)
    values = dict(zip(FEATURE_NAMES, track_features(song, song.tracks[0]), strict=True))
    assert values["median_rank"] == 0.5 and values["bass_below"] == 1
    assert values["semitones_above_bass"] == 47 - 28 and values["is_lowest"] == 0
    assert values["playable_standard_share"] == 1 and values["unplayable_chord_share"] == 0
    bass_values = dict(zip(FEATURE_NAMES, track_features(song, song.tracks[1]), strict=True))
    assert bass_values["is_lowest"] == 1 and bass_values["bass_below"] == 0


def test_metadata_guitar_playing_a_bass_line_is_suspicious():
    """A "Guitar" program playing the song's bass line: flagged, never overruled."""
    bass_line = [(i * 480, (28, 31, 33, 26)[(i // 4) % 4], 460) for i in range(32)]
    drums = notes(*[(i * 480, 36 + 2 * (i % 2), 60) for i in range(32)], channel=9, program=None)
    riff = notes(*POWER_RIFF, channel=2, program=30)
    song = load(notes(*bass_line, program=29, name="Guitar"), riff, drums)
    decision, real = (guitar.decide(song, track) for track in song.tracks[:2])
    assert decision.guitar and decision.source == "metadata" and decision.probability == 1.0
    assert decision.notes_probability < guitar.SUSPICIOUS_BELOW and decision.suspicious
    assert real.guitar and not real.suspicious and real.notes_probability > 0.5
    bass_song = load(notes(*bass_line, program=33))
    bass = guitar.decide(bass_song, bass_song.tracks[0])
    assert bass.notes_probability is None and not bass.suspicious  # only guitars are doubted


def test_artist_grouped_cross_validation_on_a_generated_corpus(tmp_path, capsys, monkeypatch):
    """The training script on a small demo corpus: folds never split an artist, the report
    has the per-threshold table with AUC, and two runs write the same JSON."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "train_guitar_model", Path(__file__).parents[1] / "scripts/train_guitar_model.py")
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)  # its dataclasses look themselves up
    spec.loader.exec_module(script)
    demo.generate(tmp_path / "corpus", files=24, seed=5)
    data, drums = script.labelled_tracks(tmp_path / "corpus")
    assert len(drums.guitar) and not drums.guitar.any()
    config = script.TrainConfig(folds=3, max_iter=20)
    columns = script._columns("base,role,fretboard")
    _, fold_of = script.cross_validate(data, drums, config, columns)
    for artist in set(data.artists):
        assert len(set(fold_of[data.artists == artist])) == 1
    outputs = []
    for name in ("a.json", "b.json"):
        assert script.main(["--corpus", str(tmp_path / "corpus"), "--out",
                            str(tmp_path / name)]) == 0
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    report = capsys.readouterr().out
    assert "folds grouped by artist" in report and "AUC (out of fold, unseen artists)" in report
    assert "| 0.40 |" in report
    trained = guitar.load_model(tmp_path / "a.json")
    assert trained.info["cross_validation"]["split"] == "artist"


def test_catalog_flags_exactly_the_tracks_the_decision_calls_suspicious(tmp_path, monkeypatch):
    """One rule: the catalog's query calls guitar.is_suspicious, so it follows its threshold, and
    a track is flagged there exactly when decide() on its notes says suspicious."""
    from deeprock.corpus import scan
    from deeprock.corpus.catalog import Catalog

    folder, path = tmp_path / "demo", tmp_path / "catalog.sqlite"
    demo.generate(folder, files=40, seed=2)
    scan.scan([folder], path, jobs=1)
    with Catalog(path) as catalog:
        files = {row["id"]: row for row in catalog.files() if row["status"] != "failed"}
        songs = {file_id: midi.load(folder / row["path"]) for file_id, row in files.items()}
        counts = []
        for below in (guitar.SUSPICIOUS_BELOW, 0.5, 0.99):
            monkeypatch.setattr(guitar, "SUSPICIOUS_BELOW", below)
            flagged = {(row["file_id"], row["idx"], row["channel"])
                       for row in catalog.missing_metadata(guitar.is_suspicious)
                       if row["suspicious"]}
            decided = {(file_id, track.index, track.channel)
                       for file_id, song in songs.items() for track in song.tracks
                       if guitar.decide(song, track).suspicious}
            assert flagged == decided, below
            counts.append(len(flagged))
    assert counts[2] > counts[1] >= counts[0], counts  # the query follows the Python threshold
