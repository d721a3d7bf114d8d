"""Token rules on hand-made MIDI with known answers."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from deeprock.corpus.vocabulary import Vocabulary
from deeprock.music import midi, tokens
from tests.conftest import midi_bytes, notes


def stream_of(*events: tuple[int, int, int], tempo: int = 500_000) -> tokens.TokenStream:
    conductor = [mido.MetaMessage("set_tempo", tempo=tempo)]
    song = midi.load_bytes(midi_bytes([conductor, notes(*events)]))
    return tokens.tokenize(song, song.tracks[0])


def test_pitch_names_follow_music21_spelling():
    assert [tokens.pitch_name(p) for p in (60, 61, 63, 66, 68, 70, 40, 0, 127)] == [
        "C4", "C#4", "E-4", "F#4", "G#4", "B-4", "E2", "C-1", "G9"]


def test_chord_is_distinct_pitches_ascending():
    stream = stream_of((0, 52, 480), (0, 40, 480), (0, 47, 480), (480, 64, 480))
    assert stream.tokens == ["E2 B2 E3", "E4"]
    assert tokens.token_pitches("E2 B2 E3") == [40, 47, 52]


def test_strummed_chord_is_one_token_but_slow_arpeggio_is_not():
    # 10 ticks apart is a strum (a sixteenth is 120 ticks); an eighth apart is an arpeggio
    strum = stream_of((0, 40, 480), (10, 47, 470), (20, 52, 460))
    assert strum.tokens == ["E2 B2 E3"]
    assert strum.delta_twelfths.tolist() == [0] and strum.duration_twelfths.tolist() == [12]
    arpeggio = stream_of((0, 40, 240), (240, 47, 240), (480, 52, 240))
    assert arpeggio.tokens == ["E2", "B2", "E3"]


def test_chord_window_is_a_sixteenth_from_the_first_note():
    # music21's rule: start under a sixteenth after the chord's first note, end within one
    assert stream_of((0, 40, 480), (110, 47, 400)).tokens == ["E2 B2"]
    assert stream_of((0, 40, 480), (130, 47, 350)).tokens == ["E2", "B2"]


def test_note_ringing_much_longer_is_its_own_token():
    stream = stream_of((0, 40, 1920), (0, 47, 240), (0, 52, 240))
    assert stream.tokens == ["E2", "B2 E3"]
    assert stream.delta_twelfths.tolist() == [0, 0]
    assert stream.duration_twelfths.tolist() == [48, 6]


def test_note_repeated_at_the_same_onset_counts_once():
    assert stream_of((0, 40, 480), (0, 40, 480), (0, 47, 480)).tokens == ["E2 B2"]


def test_rhythm_in_twelfths_of_a_quarter():
    sixteenths = stream_of((0, 40, 120), (120, 42, 120), (240, 43, 120))
    assert sixteenths.delta_twelfths.tolist() == [0, 3, 3]
    assert sixteenths.duration_twelfths.tolist() == [3, 3, 3]
    triplets = stream_of((480, 40, 160), (640, 42, 160), (800, 43, 160))
    assert triplets.delta_twelfths.tolist() == [12, 4, 4]
    assert triplets.duration_twelfths.tolist() == [4, 4, 4]


def test_quantize_picks_the_nearer_grid():
    quarters = np.array([0.26, 0.32, 0.5, 0.66, 1.0])
    assert tokens.quantize_twelfths(quarters).tolist() == [3, 4, 6, 8, 12]


def test_empty_track_gives_no_tokens():
    song = midi.load_bytes(midi_bytes([notes((0, 40, 480))]))
    track = song.tracks[0]
    track.notes = track.notes[:0]
    assert tokens.tokenize(song, track).tokens == []


def test_vocabulary_round_trips_through_json(tmp_path):
    vocabulary = Vocabulary()
    ids = vocabulary.ids(["E2 B2 E3", "E4", "E2 B2 E3", "G#3"])
    assert ids.tolist() == [0, 1, 0, 2]
    vocabulary.save(tmp_path / "vocab.json")
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded == vocabulary and loaded.decode(ids) == ["E2 B2 E3", "E4", "E2 B2 E3", "G#3"]
    assert loaded != Vocabulary(["E4"])
    assert not list(tmp_path.glob(".*tmp"))


def test_vocabulary_rejects_malformed_json():
    with pytest.raises(ValueError, match="list of token strings"):
        Vocabulary.from_dict({"tokens": [1, 2]})


def stream_in_meters(meters: list[tuple[int, int, int]], *events: tuple[int, int, int]
                     ) -> tokens.TokenStream:
    """Notes under time signatures (tick, numerator, denominator) in the conductor track."""
    conductor, now = [], 0
    for tick, numerator, denominator in meters:
        conductor.append(mido.MetaMessage("time_signature", numerator=numerator,
                                          denominator=denominator, time=tick - now))
        now = tick
    song = midi.load_bytes(midi_bytes([conductor, notes(*events)]))
    return tokens.tokenize(song, song.tracks[0])


QUARTERS = [(480 * beat, 40, 240) for beat in range(8)]  # one note on every beat, 8 beats


def test_positions_count_from_the_bar_line_in_four_four():
    stream = stream_of(*QUARTERS, (480 * 8 + 120, 42, 120))  # no time signature: 4/4
    assert stream.position_twelfths.tolist() == [0, 12, 24, 36, 0, 12, 24, 36, 3]
    assert stream.bar.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2]


def test_positions_in_three_four_and_six_eight_bars():
    for numerator, denominator in ((3, 4), (6, 8)):  # both 36 twelfths
        stream = stream_in_meters([(0, numerator, denominator)], *QUARTERS)
        assert stream.position_twelfths.tolist() == [0, 12, 24, 0, 12, 24, 0, 12]
        assert stream.bar.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    seven = stream_in_meters([(0, 7, 8)], *QUARTERS)  # 42 twelfths: 3.5 quarters
    assert seven.position_twelfths.tolist() == [0, 12, 24, 36, 6, 18, 30, 0]
    assert seven.bar.tolist() == [0, 0, 0, 0, 1, 1, 1, 2]


def test_a_meter_change_starts_a_new_bar_where_it_stands():
    # 4/4, then 3/4 from beat 6 (in the middle of bar 2, which is cut short), then 4/4 at beat 9
    stream = stream_in_meters([(0, 4, 4), (480 * 6, 3, 4), (480 * 9, 4, 4)],
                              *[(480 * beat, 40, 240) for beat in range(11)])
    assert stream.position_twelfths.tolist() == [0, 12, 24, 36, 0, 12, 0, 12, 24, 0, 12]
    assert stream.bar.tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    song = midi.load_bytes(midi_bytes([[], notes((0, 40, 240))]))
    assert song.meters == [(0, 4, 4)]
