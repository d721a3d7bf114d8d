"""Riff output: MIDI (read back by our loader, tokenizer and mido), MusicXML (music21), audio
(FluidSynth, loud failures), statistics and the copy index against brute force, piano roll."""

from __future__ import annotations

import io
import json
import os
import struct
import time
import wave

import mido
import numpy as np
import pytest

from deeprock.generation.copyindex import CopyIndex
from deeprock.generation.midi_out import (
    ACCENT_VELOCITIES,
    BASS_RANGE,
    TICKS_PER_TWELFTH,
    riff_midi,
    write_riff_midi,
)
from deeprock.generation.musicxml import riff_musicxml, split_simple
from deeprock.generation.outputs import OutputOptions, RiffRender, riff_files
from deeprock.generation.riff import Riff
from deeprock.generation.roll import riff_roll
from deeprock.generation.stats import (
    dataset_stats,
    longest_repeat,
    pitch_class_distance,
    riff_stats,
)
from deeprock.music import audio
from deeprock.music.midi import load_bytes
from deeprock.music.tokens import TWELFTHS_PER_QUARTER, tokenize
from deeprock.tab.tab import fret_chords
from deeprock.tab.tabtext import tab_text
from tests.conftest import midi_bytes, notes

TOKENS = ["E2 B2 E3", "G2 D3", "A2", "B-2", "E4", "C#5", "A2 E3 A3"]


def on_grid(twelfths: int) -> bool:
    return twelfths % 3 == 0 or twelfths % 4 == 0


def riff_of(count: int = 24, seed: int = 0, primer_length: int = 4) -> Riff:
    """A riff with onsets on the sixteenth or triplet grid (as the tokenizer snaps them), gaps
    of at least a sixteenth (closer notes would be one chord) and notes that end in time."""
    rng = np.random.default_rng(seed)
    onsets = [0]
    while len(onsets) < count:
        onset = onsets[-1] + int(rng.choice([3, 4, 5, 6, 8, 9, 12]))
        if on_grid(onset):
            onsets.append(onset)
    gaps = np.append(np.diff(onsets), 24)
    duration = [rng.choice([gap] + [d for d in (3, 4, 6, 8) if d < gap and on_grid(onset + d)])
                for onset, gap in zip(onsets, gaps, strict=True)]
    delta = np.diff(onsets, prepend=0)
    return Riff([TOKENS[i] for i in rng.integers(0, len(TOKENS), count)], delta, duration,
                primer_length)


def read_mido(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


def pitched(song):
    return [track for track in song.tracks if len(track.notes) and not track.is_drum]


# --- Riff ------------------------------------------------------------------------------------

def test_riff_json_round_trip_and_parts():
    riff = riff_of()
    again = Riff.from_dict(json.loads(json.dumps(riff.to_dict())))
    assert again == riff and again is not riff
    assert riff.onsets_twelfths().tolist() == np.cumsum(riff.delta_twelfths).tolist()
    assert Riff(["E2 B2 E3"], [0], [6]).chords() == [[40, 47, 52]]
    generated, primer = riff.generated(), riff.primer()
    assert primer.tokens + generated.tokens == riff.tokens
    assert generated.onsets_twelfths().tolist() == riff.onsets_twelfths()[4:].tolist()
    with pytest.raises(ValueError, match="needs 2 deltas"):
        Riff(["E2", "A2"], [0], [3, 3])
    with pytest.raises(ValueError, match="primer_length"):
        Riff(["E2"], [0], [3], primer_length=2)


# --- MIDI ------------------------------------------------------------------------------------

@pytest.mark.parametrize("program", [30, 29, 27, 25])
def test_midi_reads_back_with_program_tempo_meter(program):
    data = riff_midi(riff_of(), program=program, tempo_bpm=137)
    song = load_bytes(data, "riff.mid")
    assert song.status == "ok", song.error
    assert [t.program for t in pitched(song)] == [program]
    assert song.tempo == pytest.approx(137, abs=0.01)
    metas = [m for m in read_mido(data).tracks[0] if m.is_meta]
    signature = next(m for m in metas if m.type == "time_signature")
    assert (signature.numerator, signature.denominator) == (4, 4)
    with pytest.raises(ValueError, match="program 31"):
        riff_midi(riff_of(), program=31)


def test_midi_tokens_and_rhythm_survive_our_tokenizer():
    riff = riff_of(48, seed=3)
    song = load_bytes(riff_midi(riff, primer="marker"), "riff.mid")
    (track,) = pitched(song)
    stream = tokenize(song, track)
    assert stream.tokens == riff.tokens
    assert stream.delta_twelfths.tolist() == riff.delta_twelfths.tolist()
    assert stream.duration_twelfths.tolist() == riff.duration_twelfths.tolist()


def test_accents_downbeat_beat_offbeat():
    riff = Riff(["E2", "A2", "B2", "E3"], [0, 12, 6, 30], [6, 6, 6, 6])  # bar, beat, off, bar
    (track,) = pitched(load_bytes(riff_midi(riff), "riff.mid"))
    velocities = track.notes["velocity"].tolist()
    downbeat, beat, offbeat = ACCENT_VELOCITIES
    assert velocities == [downbeat, beat, offbeat, downbeat]
    assert downbeat > beat > offbeat


def test_primer_marker_track_and_omitted():
    riff = riff_of(24, primer_length=4)
    start_tick = int(riff.onsets_twelfths()[4]) * TICKS_PER_TWELFTH
    marked = read_mido(riff_midi(riff, primer="marker"))
    markers, now = [], 0
    for message in marked.tracks[0]:
        now += message.time
        if message.type == "marker":
            markers.append((now, message.text))
    assert markers == [(0, "primer"), (start_tick, "generated")]
    primer_notes = sum(len(chord) for chord in riff.chords()[:4])
    all_notes = sum(len(chord) for chord in riff.chords())

    separate = load_bytes(riff_midi(riff, primer="track"), "riff.mid")
    by_name = {t.name: t for t in pitched(separate)}
    assert len(by_name["Primer"].notes) == primer_notes
    assert len(by_name["Guitar"].notes) == all_notes - primer_notes
    assert by_name["Guitar"].notes["start"].min() == start_tick

    omitted = load_bytes(riff_midi(riff, primer="omit"), "riff.mid")
    (guitar,) = pitched(omitted)
    assert len(guitar.notes) == all_notes - primer_notes
    bar_ticks = 4 * 480  # whole bars dropped: the first generated note keeps its place
    assert guitar.notes["start"].min() == start_tick % bar_ticks
    assert not [m for m in read_mido(riff_midi(riff, primer="omit")).tracks[0]
                if m.type == "marker"]


def test_backing_drums_on_channel_10_and_bass_on_lowest_notes():
    riff = riff_of(32, seed=5, primer_length=0)
    assert len(load_bytes(riff_midi(riff), "riff.mid").tracks) == 1  # off by default
    song = load_bytes(riff_midi(riff, backing=True), "riff.mid")
    tracks = {t.name: t for t in song.tracks}
    assert set(tracks) == {"Guitar", "Bass", "Drums"}
    assert len({t.index for t in song.tracks}) == 3  # each on its own track
    drums, bass = tracks["Drums"], tracks["Bass"]
    assert drums.channel == 9 and drums.is_drum
    assert {36, 38, 42} <= set(drums.notes["pitch"].tolist())
    bars = -(-riff.end_twelfths() // 48)
    assert (drums.notes["pitch"] == 38).sum() == 2 * bars  # backbeat on 2 and 4 of every bar
    assert bass.program in range(32, 40) and bass.channel not in (0, 9)
    onsets = riff.onsets_twelfths() * TICKS_PER_TWELFTH
    lowest = [min(chord) for chord in riff.chords()]
    expected = {}
    for onset, pitch in zip(onsets.tolist(), lowest, strict=True):
        expected[onset] = min(expected.get(onset, 127), pitch)
    assert bass.notes["start"].tolist() == sorted(expected)
    for got, want in zip(bass.notes["pitch"].tolist(), [expected[o] for o in sorted(expected)],
                         strict=True):
        assert (got - want) % 12 == 0 and BASS_RANGE[0] <= got <= BASS_RANGE[1]


def test_repeated_pitch_is_cut_not_overlapped_and_written_atomically(tmp_path):
    riff = Riff(["E2", "E2", "E2"], [0, 3, 3], [48, 48, 48])
    path = tmp_path / "riffs" / "riff.mid"
    write_riff_midi(path, riff, tempo_bpm=100)
    assert path.read_bytes() == riff_midi(riff, tempo_bpm=100)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    (track,) = pitched(load_bytes(path.read_bytes(), "riff.mid"))
    assert track.notes["start"].tolist() == [0, 120, 240]
    assert track.notes["duration"].tolist() == [120, 120, 48 * TICKS_PER_TWELFTH]


def test_empty_and_primer_only_riffs_still_give_files():
    for riff in (Riff([], [], []), Riff(["E2 B2"], [0], [6], primer_length=1)):
        for mode in ("marker", "track", "omit"):
            assert load_bytes(riff_midi(riff, primer=mode, backing=True)).status == "ok"
        assert riff_musicxml(riff).startswith(b"<?xml")
        assert riff_stats(riff)["tokens"] == len(riff)
        assert len(riff_roll(riff).data) == 3


# --- Every output of one riff --------------------------------------------------------------

def counted(monkeypatch, module, name: str) -> list:
    """Replace module.name by a wrapper that records each call; the list of calls."""
    calls, original = [], getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_one_fingering_for_tab_gp5_and_page_and_no_midi_for_a_tab_alone(monkeypatch):
    from deeprock.generation import midi_out
    from deeprock.tab import tab

    frets, midis = counted(monkeypatch, tab, "fret_chords"), counted(monkeypatch, midi_out,
                                                                      "riff_midi")
    riff = riff_of()
    render = RiffRender(riff, OutputOptions(primer_mode="omit"))
    shown = render.files(("mid", "txt"))  # the page's view, then a GP5 download, then a save
    assert render.gp5 == render.gp5
    saved = render.files(("mid", "txt", "gp5", "musicxml"))
    assert (len(frets), len(midis)) == (1, 1)
    assert saved.data["txt"] == shown.data["txt"] and saved.data["gp5"] == render.gp5
    part = riff.generated()
    onsets = (part.onsets_twelfths() / TWELFTHS_PER_QUARTER).tolist()
    fingering = fret_chords(part.chords(), onsets_quarters=onsets)
    assert shown.data["txt"].decode() == tab_text(fingering, onsets, tab.TUNINGS["standard"])
    assert saved.difficulty == fingering.difficulty
    tab_only = riff_files(riff, OutputOptions(), ("txt",))
    assert set(tab_only.data) == {"txt"} and len(midis) == 1  # no MIDI built for a tab


# --- MusicXML --------------------------------------------------------------------------------

def test_musicxml_parses_back_with_music21():
    from fractions import Fraction

    from music21 import converter

    riff = Riff([TOKENS[i % 7] for i in range(30)], [0] + [5, 7, 1, 11, 4, 0] * 4 + [3] * 5,
                [5, 7, 13, 1, 22, 11] * 5, primer_length=3)  # complex durations on purpose
    score = converter.parseData(riff_musicxml(riff, program=29, tempo_bpm=140),
                                format="musicxml")
    got = {}
    for element in score.flatten().notes:
        if element.tie is None or element.tie.type == "start":  # ties split across barlines
            got[Fraction(element.offset).limit_denominator(12)] = sorted(
                p.midi for p in element.pitches)
    want: dict = {}
    for chord, onset in zip(riff.chords(), riff.onsets_twelfths().tolist(), strict=True):
        want.setdefault(Fraction(onset, 12), set()).update(chord)
    assert got == {onset: sorted(pitches) for onset, pitches in want.items()}
    assert score.parts[0].getInstrument().midiProgram == 29
    flat = score.flatten()
    assert [m.number for m in flat.getElementsByClass("MetronomeMark")] == [140]
    assert flat.getElementsByClass("TimeSignature")[0].ratioString == "4/4"


def test_split_simple_sums_and_uses_note_values():
    for twelfths in range(1, 100):
        parts = split_simple(twelfths)
        assert sum(parts) == twelfths and parts == sorted(parts, reverse=True)


# --- audio -----------------------------------------------------------------------------------

@pytest.fixture
def fluidsynth_ready():
    try:
        audio.fluidsynth_binary()
        audio.find_soundfont()
    except (audio.AudioUnavailable, audio.AudioError) as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"audio must be tested on CI: {error}")
        pytest.skip(str(error))


def fake_soundfont(path, body: bytes = b"\0" * 64):
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 4) + b"sfbk" + body)
    return path


def test_wav_is_not_silent_and_as_long_as_the_midi(fluidsynth_ready, tmp_path):
    riff = riff_of(40, seed=2)
    midi_path, wav_path = tmp_path / "riff.mid", tmp_path / "out" / "riff.wav"
    write_riff_midi(midi_path, riff, tempo_bpm=120, backing=True)
    midi_seconds = load_bytes(midi_path.read_bytes()).length_seconds
    info = audio.render_wav(midi_path, wav_path)
    assert info.peak > 0.01
    assert midi_seconds <= info.seconds + audio.SHORT_SECONDS <= midi_seconds + 12
    with wave.open(str(wav_path)) as wav:
        assert wav.getframerate() == 44100
        assert wav.getnframes() / 44100 == pytest.approx(info.seconds)
    assert [p.name for p in wav_path.parent.iterdir()] == ["riff.wav"]  # no temporary left
    data = audio.midi_to_wav_bytes(midi_path.read_bytes())
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    audio.render_ogg(midi_path, tmp_path / "riff.ogg")
    ogg = (tmp_path / "riff.ogg").read_bytes()
    assert ogg[:4] == b"OggS" and b"vorbis" in ogg[:200] and len(ogg) < len(data) / 4
    assert audio.midi_to_ogg_bytes(midi_path.read_bytes())[:4] == b"OggS"


def test_silent_render_and_unusable_soundfont_are_errors(fluidsynth_ready, tmp_path):
    volume_off = [mido.Message("control_change", channel=0, control=7, value=0)]
    silent = tmp_path / "silent.mid"
    silent.write_bytes(midi_bytes([volume_off + notes((0, 40, 960), (960, 45, 960))]))
    with pytest.raises(audio.AudioError, match="silent"):
        audio.render_wav(silent, tmp_path / "silent.wav")
    assert not (tmp_path / "silent.wav").exists()
    riff_path = tmp_path / "riff.mid"
    write_riff_midi(riff_path, riff_of())
    # a soundfont fluidsynth cannot load: it exits 0 with its default soundfont instead
    with pytest.raises(audio.AudioError, match="Failed to load"):
        audio.render_wav(riff_path, tmp_path / "riff.wav",
                         soundfont=fake_soundfont(tmp_path / "broken.sf2"))
    with pytest.raises(audio.AudioError, match="took more than"):
        audio.render_wav(riff_path, tmp_path / "riff.wav", timeout_s=0.001)
    assert not list(tmp_path.glob("*.wav")) and not list(tmp_path.glob(".riff.wav*"))
    not_midi = tmp_path / "notes.mid"
    not_midi.write_bytes(b"not a midi file at all")
    with pytest.raises(audio.AudioError, match=r"notes\.mid"):
        audio.render_wav(not_midi, tmp_path / "notes.wav")


def test_missing_binary_or_soundfont_says_how_to_install(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setenv("PATH", str(tmp_path))
        with pytest.raises(audio.AudioUnavailable, match="apt-get install fluidsynth"):
            audio.render_wav(tmp_path / "riff.mid", tmp_path / "riff.wav")
    monkeypatch.setattr(audio, "SOUNDFONT_DIRS", (tmp_path / "sf2", tmp_path / "soundfonts"))
    with pytest.raises(audio.AudioUnavailable, match=r"apt-get install .*fluid-soundfont-gm"):
        audio.find_soundfont()
    with pytest.raises(audio.AudioUnavailable, match=r"Mine\.sf2 not found"):
        audio.find_soundfont("Mine.sf2")
    (tmp_path / "sf2").mkdir()
    (tmp_path / "soundfonts").mkdir()
    tim = fake_soundfont(tmp_path / "soundfonts" / "TimGM6mb.sf2")
    assert audio.find_soundfont() == tim.resolve()
    fluid = fake_soundfont(tmp_path / "sf2" / "FluidR3_GM.sf2")
    assert audio.find_soundfont() == fluid.resolve()  # preferred over TimGM6mb
    assert audio.find_soundfont("TimGM6mb.sf2") == tim.resolve()  # a named one wins
    (tmp_path / "sf2" / "junk.sf2").write_bytes(b"MThd" + b"\0" * 20)
    with pytest.raises(audio.AudioError, match="not a SoundFont 2 file"):
        audio.find_soundfont(tmp_path / "sf2" / "junk.sf2")


# --- statistics and copies -------------------------------------------------------------------

def brute_longest_repeat(ids) -> int:
    best = run = 0
    for i, token in enumerate(ids):
        run = run + 1 if i and ids[i - 1] == token else 1
        best = max(best, run)
    return best


def test_riff_stats_on_a_known_riff():
    riff = Riff(["E2 B2", "E2 B2", "E2 B2", "G2", "A2 E3"], [0, 6, 6, 12, 24], [6, 6, 6, 12, 6])
    stats = riff_stats(riff)
    counts = {4: 4, 11: 3, 7: 1, 9: 1}  # E x4 (3 chords + E3), B x3, G, A
    assert stats["pitch_class_histogram"] == pytest.approx(
        [counts.get(pc, 0) / 9 for pc in range(12)])
    assert stats["pitch_range"] == [40, 52]
    assert stats["chord_share"] == pytest.approx(0.8)
    assert stats["longest_repeat"] == 3
    assert stats["notes_per_bar"] == pytest.approx(4 * 48 / 48)  # 4 gaps over one bar
    assert stats["distinct_gaps"] == 3
    assert stats["distinct_per_32"] == 3  # shorter than a window: all its distinct tokens


def test_stats_against_brute_force_and_dataset_of_one_stream():
    rng = np.random.default_rng(7)
    vocabulary = ["E2", "A2", "E2 B2", "G2 D3", "<unk>", "B-3"]
    streams = [rng.choice(6, size, p=[0.4, 0.2, 0.2, 0.1, 0.05, 0.05])
               for size in (5, 40, 120, 250)]
    for stream in streams:
        assert longest_repeat(stream) == brute_longest_repeat(stream.tolist())
    stats = dataset_stats(streams, vocabulary, chunk_tokens=50)
    windows = [len(set(s[i : i + 32].tolist())) for s in streams if len(s) > 32
               for i in range(len(s) - 32)] + [len(set(streams[0].tolist()))]
    assert stats["distinct_per_32"] == pytest.approx(np.mean(windows))
    chunks = [brute_longest_repeat(s[i : i + 50].tolist()) for s in streams
              for i in range(0, max(len(s) - 50, 0) + 1, 50)]
    assert stats["longest_repeat_p99"] == pytest.approx(np.percentile(chunks, 99))
    ids = np.concatenate(streams)
    assert stats["chord_share"] == pytest.approx(np.isin(ids, [2, 3]).mean())
    kept = streams[2][streams[2] != 4]  # a riff holds no '<unk>'
    riff = Riff([vocabulary[i] for i in kept], [0] + [6] * (len(kept) - 1), [6] * len(kept))
    one = riff_stats(riff)
    same = dataset_stats([kept], vocabulary, [riff.delta_twelfths])
    for key in ("pitch_class_histogram", "pitch_range", "chord_share", "distinct_per_32",
                "longest_repeat", "notes_per_bar"):
        assert one[key] == pytest.approx(same[key]), key
    assert pitch_class_distance(one["pitch_class_histogram"], same["pitch_class_histogram"]) \
        == pytest.approx(0)
    assert pitch_class_distance(np.eye(12)[0], np.eye(12)[5]) == 1.0


def brute_longest_copy(streams, query) -> int:
    best = 0
    for stream in streams:
        for i in range(len(stream)):
            for j in range(len(query)):
                length = 0
                while (i + length < len(stream) and j + length < len(query)
                       and stream[i + length] == query[j + length]):
                    length += 1
                best = max(best, length)
    return best


def test_copy_index_against_brute_force():
    rng = np.random.default_rng(11)
    for _ in range(150):
        alphabet = int(rng.integers(1, 5))
        streams = [rng.integers(0, alphabet, rng.integers(0, 30))
                   for _ in range(rng.integers(0, 5))]
        query = rng.integers(0, 4, rng.integers(0, 25))
        assert CopyIndex(streams).longest_copy(query) == brute_longest_copy(streams, query)
    # never across a stream boundary: [1 2 3][4 5 6] holds no copy of 3 4
    index = CopyIndex([np.array([1, 2, 3]), np.array([4, 5, 6])])
    assert index.longest_copy(np.array([2, 3, 4, 5])) == 2


def test_copy_index_speed_on_a_million_tokens():
    rng = np.random.default_rng(3)
    streams = [rng.integers(0, 3000, 400) for _ in range(2500)]  # 1M tokens
    started = time.perf_counter()
    index = CopyIndex(streams)
    built = time.perf_counter() - started
    query = np.concatenate([rng.integers(0, 3000, 150), streams[99][20:70],
                            rng.integers(0, 3000, 300)])
    started = time.perf_counter()
    assert index.longest_copy(query) >= 50
    asked = time.perf_counter() - started
    assert built < 1.0 and asked < 0.5, (built, asked)


# --- piano roll ------------------------------------------------------------------------------

def test_riff_roll_colours_parts_and_shows_tokens():
    riff = Riff(["E2 B2 E3", "A2", "G2 D3", "E4"], [0, 6, 6, 12], [6, 6, 12, 6],
                primer_length=1)
    figure = riff_roll(riff)
    primer, generated, chords = figure.data
    assert list(primer.y) == [40, 47, 52] and set(primer.hovertext) == {"E2 B2 E3"}
    assert list(generated.y) == [45, 43, 50, 64]
    assert list(generated.hovertext) == ["A2", "G2 D3", "G2 D3", "E4"]
    assert primer.marker.color != generated.marker.color
    assert [y for y in chords.y if y is not None] == [40, 52, 43, 50]  # one line per chord
    assert list(generated.base) == [0.5, 1.0, 1.0, 2.0]  # beats
    assert figure.layout.xaxis.dtick == 4  # a short riff: every bar labelled


def test_a_long_riffs_roll_labels_at_most_16_bars_with_a_grid_line_at_each():
    riff = riff_of(2000, seed=4)
    bars = riff.end_twelfths() / 48
    axis = riff_roll(riff).layout.xaxis
    assert bars / (axis.dtick / 4) <= 16 < bars and axis.minor.dtick == 4

