"""The loader: real files, every repair, and inputs that must fail with a reason."""

from __future__ import annotations

import time

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeprock.music import midi, smf
from tests.conftest import midi_bytes, notes

RIFF_SIZE_OFFSET = 4


def simple_song() -> bytes:
    conductor = [mido.MetaMessage("set_tempo", tempo=500_000)]
    guitar = notes((0, 40, 240), (240, 47, 240), (480, 52, 480), program=30, name="Lead Gtr")
    bass = notes((0, 28, 960), channel=1, program=33, name="Bass")
    return midi_bytes([conductor, guitar, bass])


def test_music21_bundled_files_all_load(music21_midi_files):
    for path in music21_midi_files:
        song = midi.load(path)
        assert song.status in ("ok", "recovered"), (path, song.error)
        assert song.md5 and song.size == path.stat().st_size


def test_tracks_keep_chunk_index_channel_program_and_name():
    song = midi.load_bytes(simple_song())
    assert song.status == "ok" and song.repairs == []
    assert [(t.index, t.channel, t.program, t.name) for t in song.tracks] == [
        (1, 0, 30, "Lead Gtr"), (2, 1, 33, "Bass")]
    assert song.tracks[0].notes["pitch"].tolist() == [40, 47, 52]
    assert song.tracks[0].notes["duration"].tolist() == [240, 240, 480]
    assert song.length_seconds == pytest.approx(1.0)


def test_type0_file_splits_by_channel_and_knows_missing_program():
    merged = notes((0, 64, 480)) + notes((0, 36, 480), channel=9, program=None, name=None)
    mixed = mido.merge_tracks([mido.MidiTrack(merged),
                               mido.MidiTrack(notes((0, 50, 480), channel=3, program=None,
                                                    name=None))])
    song = midi.load_bytes(midi_bytes([list(mixed)], midi_type=0))
    found = {(t.index, t.channel): t.program for t in song.tracks}
    assert found == {(0, 0): 29, (0, 3): None, (0, 9): None}
    assert [t.is_drum for t in song.tracks if t.channel == 9] == [True]


def test_program_change_mid_track_stays_one_track():
    messages = notes((0, 60, 240), (480, 62, 240), program=30)
    messages.insert(3, mido.Message("program_change", program=29, time=0))
    song = midi.load_bytes(midi_bytes([messages]))
    assert len(song.tracks) == 1
    assert song.tracks[0].program == 30 and len(song.tracks[0].notes) == 2


def test_tempo_map_converts_ticks_to_seconds():
    conductor = [mido.MetaMessage("set_tempo", tempo=500_000),
                 mido.MetaMessage("set_tempo", tempo=1_000_000, time=480)]
    song = midi.load_bytes(midi_bytes([conductor, notes((0, 60, 960))]))
    assert song.seconds(np.array([0, 480, 960])).tolist() == pytest.approx([0, 0.5, 1.5])


def rmid(data: bytes) -> bytes:
    body = b"RMID" + b"data" + len(data).to_bytes(4, "little") + data
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def corrupt_high_byte(data: bytes) -> bytes:
    # the velocity byte of the first note-on of the guitar track, set above 127
    at = data.index(bytes([0x90, 40, 90]))
    return data[: at + 2] + b"\xd0" + data[at + 3 :]


def truncate(data: bytes) -> bytes:
    return data[: len(data) - 6]


def bad_length(data: bytes, delta: int) -> bytes:
    """Change the declared length of the second MTrk (the guitar track)."""
    at = data.index(b"MTrk", data.index(b"MTrk") + 4)
    length = int.from_bytes(data[at + 4 : at + 8], "big") + delta
    return data[: at + 4] + length.to_bytes(4, "big") + data[at + 8 :]


def drop_end_of_track(data: bytes) -> bytes:
    at = data.index(b"MTrk", data.index(b"MTrk") + 4)
    length = int.from_bytes(data[at + 4 : at + 8], "big")
    body = data[at + 8 : at + 8 + length]
    assert body.endswith(b"\x00\xff\x2f\x00")
    body = body[:-4]
    return data[: at + 4] + len(body).to_bytes(4, "big") + body + data[at + 8 + length :]


def stray_data_byte(data: bytes) -> bytes:
    # a data byte right at the start of a track, where no running status exists yet
    at = data.index(b"MTrk", data.index(b"MTrk") + 4)
    length = int.from_bytes(data[at + 4 : at + 8], "big") + 2
    return data[: at + 4] + length.to_bytes(4, "big") + b"\x00\x45" + data[at + 8 :]


@pytest.mark.parametrize(("damage", "repair"), [
    (rmid, "RIFF/RMID wrapper"),
    (corrupt_high_byte, "above 127"),
    (truncate, "truncated"),
    (lambda d: bad_length(d, -7), "chunk length"),
    (lambda d: bad_length(d, +9), "chunk length"),
    (drop_end_of_track, "end-of-track"),
    (stray_data_byte, "stray bytes"),
    (lambda d: b"\x00junk" + d, "bytes before the MThd"),
])
def test_damaged_files_are_recovered_with_the_repair_named(damage, repair):
    song = midi.load_bytes(damage(simple_song()))
    assert song.status == "recovered", song.error
    assert any(repair in r for r in song.repairs), song.repairs
    guitar = [t for t in song.tracks if t.program == 30]
    assert guitar and guitar[0].notes["pitch"][0] == 40


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty file"),
    (b"hello, this is not MIDI at all" * 10, "no MThd"),
    (b"MThd\x00\x00\x00\x06\x00\x01", "truncated"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x00MTrk\x00\x00\x00\x00", "division is 0"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0", "no MTrk"),
])
def test_unreadable_bytes_fail_with_a_reason(data, reason):
    song = midi.load_bytes(data)
    assert song.status == "failed" and reason in song.error and song.tracks == []


def test_files_that_cannot_be_read_fail_naming_the_problem(tmp_path):
    (tmp_path / "folder.mid").mkdir()
    assert "cannot read" in midi.load(tmp_path / "folder.mid").error
    assert "No such file" in midi.load(tmp_path / "gone.mid").error


def test_size_and_note_limits(tmp_path, monkeypatch):
    path = tmp_path / "song.mid"
    path.write_bytes(simple_song())
    monkeypatch.setattr(midi, "MAX_FILE_BYTES", 100)
    assert "byte limit" in midi.load(path).error
    monkeypatch.setattr(midi, "MAX_FILE_BYTES", 10**6)
    monkeypatch.setattr(midi, "MAX_NOTES", 2)
    assert "notes" in midi.load(path).error


def test_rebuilt_bytes_read_like_the_original():
    clean, repairs = smf.rebuild(simple_song())
    assert repairs == []
    original, rebuilt = midi.load_bytes(simple_song()), midi.load_bytes(clean)
    for a, b in zip(original.tracks, rebuilt.tracks, strict=True):
        assert np.array_equal(a.notes, b.notes) and (a.channel, a.program) == (b.channel, b.program)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_real_files_never_raise_nor_hang(music21_midi_files, data):
    source = data.draw(st.sampled_from(music21_midi_files)).read_bytes()
    source = data.draw(st.sampled_from([source, rmid(source)]))
    mutated = bytearray(source)
    for _ in range(data.draw(st.integers(1, 12))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if kind == "flip" and mutated:
            mutated[at] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del mutated[at : at + data.draw(st.integers(1, 64))]
        else:
            mutated[at:at] = data.draw(st.binary(min_size=1, max_size=16))
    started = time.perf_counter()
    song = midi.load_bytes(bytes(mutated))
    assert time.perf_counter() - started < 1.0
    assert song.status in ("ok", "recovered", "failed")
    assert (song.error is None) == (song.status != "failed")


@pytest.mark.corpus
def test_every_file_of_the_shared_corpus_is_read(shared_corpus):
    statuses = {}
    for path in sorted(shared_corpus.rglob("*")):
        if path.is_file():
            song = midi.load(path)
            statuses[song.status] = statuses.get(song.status, 0) + 1
            assert song.status != "failed", (path, song.error)
    assert statuses["ok"] > 1000 and sum(statuses.values()) == 1181


def smpte_song(division: bytes, tempo: int | None = 500_000) -> bytes:
    """Notes one second apart under 25 fps x 40 ticks (1000 ticks a second)."""
    conductor = [] if tempo is None else [mido.MetaMessage("set_tempo", tempo=tempo)]
    guitar = notes((0, 40, 500), (1000, 47, 500), (2000, 52, 500), program=30)
    data = midi_bytes([conductor, guitar])
    return data[:12] + division + data[14:]


@pytest.mark.parametrize(("tempo", "ticks_per_quarter", "qpm"), [
    (500_000, 500, 120.0), (1_000_000, 1000, 60.0), (None, 500, 120.0)])
def test_smpte_division_is_read_in_seconds_then_quarters(tempo, ticks_per_quarter, qpm):
    song = midi.load_bytes(smpte_song(b"\xe7\x28", tempo))  # -25 fps, 40 ticks per frame
    assert song.status == "recovered", song.error
    assert any("SMPTE" in note and "25 frames" in note for note in song.repairs)
    assert song.ticks_per_beat == ticks_per_quarter and song.tempo == qpm
    guitar = song.tracks[0]
    assert np.allclose(song.seconds(guitar.notes["start"]), [0.0, 1.0, 2.0])
    assert song.length_seconds == pytest.approx(2.5)


def test_type2_file_is_read_as_its_first_sequence():
    first = notes((0, 40, 240), (240, 47, 240), program=30, name="Riff A")
    second = notes((0, 60, 480), channel=1, program=0, name="Piano B")
    song = midi.load_bytes(midi_bytes([first, second], midi_type=2))
    assert song.status == "recovered"
    assert any("type 2" in note and "first sequence" in note for note in song.repairs)
    assert [(t.index, t.name, t.program) for t in song.tracks] == [(0, "Riff A", 30)]


def test_single_sequence_type2_file_needs_no_note():
    song = midi.load_bytes(midi_bytes([notes((0, 40, 240), program=30)], midi_type=2))
    assert song.status == "ok" and len(song.tracks) == 1


def bad_bend_song() -> bytes:
    """A pitch bend in track 1 at tick 240 whose msb byte is above 127."""
    messages = notes((0, 40, 240), (480, 47, 240), program=30)
    messages.insert(3, mido.Message("pitchwheel", channel=0, pitch=100, time=240))
    messages[4] = messages[4].copy(time=0)
    data = bytearray(midi_bytes([[mido.MetaMessage("set_tempo", tempo=500_000)], messages]))
    at = data.index(bytes([0xE0, 0x64, 0x40]))
    data[at + 2] = 0xC1
    return bytes(data)


def raw_parser_message(data: bytes) -> str:
    import symusic

    with pytest.raises(RuntimeError) as error:
        symusic.Score.from_midi(data)
    return str(error.value)


HEADER = b"MThd\x00\x00\x00\x06"
TRACK = b"MTrk\x00\x00\x00\x04\x00\xff\x2f\x00"
COVERED: set[str] = set()


@pytest.mark.parametrize(("key", "data", "expected"), [
    ("empty", b"", "empty file (0 bytes)"),
    ("not_midi", b"hello, this is not MIDI at all" * 10, "not a MIDI file: no MThd header"),
    ("header_truncated", HEADER + b"\x00\x01", "MThd header missing or truncated"),
    ("header_length", b"MThd\x00\x00\x00\x02\x00\x01\x00\x01\x01\xe0" + TRACK,
     "MThd header length 2 is below 6"),
    ("division_zero", HEADER + b"\x00\x01\x00\x01\x00\x00" + TRACK,
     "time division is 0 ticks per beat"),
    ("no_track", HEADER + b"\x00\x01\x00\x01\x01\xe0", "no MTrk track chunk"),
    ("bad_format", HEADER + b"\x00\x05\x00\x01\x01\xe0" + TRACK, "MIDI format 5 is not 0, 1 or 2"),
    ("smpte", HEADER + b"\x00\x01\x00\x01\x9c\x28" + TRACK, "SMPTE time division of 100 frames"),
])
def test_loader_reasons_are_sentences_about_the_file(key, data, expected):
    song = midi.load_bytes(data)
    assert song.status == "failed" and song.error.startswith(expected), song.error
    COVERED.add(key)


def test_parser_messages_become_our_sentences():
    from deeprock.music.load_reasons import reason
    from deeprock.music.parser_messages import parser_reason

    bend = bad_bend_song()
    message = raw_parser_message(bend)
    assert message.startswith("Get pitch_bend=")  # what a user must never see
    assert parser_reason(message, bend) == (
        "pitch bend value 16612 out of range in track 1 at tick 240")
    cut = HEADER + b"\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x03\x00\x90\x40"
    real = {"cut_short": raw_parser_message(cut),
            "chunk_length": raw_parser_message(simple_song()[:60]),
            "bad_format": raw_parser_message(HEADER + b"\x00\x07\x00\x01\x01\xe0" + TRACK),
            # messages symusic 0.5 gives for bytes our repairs always fix first
            "status_byte": "MiniMidi: Unknown or unsupported status byte: 0xf4",
            "running_status": "MiniMidi: Unexpected running status! Get status code: 0x45",
            "meta_value": "MiniMidi: Meta value is out of bound",
            "unknown": "std::bad_alloc"}
    assert parser_reason(real["cut_short"], cut) == reason("cut_short")
    assert parser_reason(real["bad_format"], b"") == reason("bad_format", format=7)
    assert parser_reason(real["status_byte"], b"") == reason("status_byte", byte="f4")
    for key in ("running_status", "meta_value", "chunk_length", "unknown"):
        assert parser_reason(real[key], b"") == reason(key)
    COVERED.update(real, {"pitch_bend"})


def test_reasons_of_limits_unreadable_files_and_unmatched_notes(tmp_path, monkeypatch):
    (tmp_path / "folder.mid").mkdir()
    assert midi.load(tmp_path / "folder.mid").error.startswith("cannot read: ")
    monkeypatch.setattr(midi, "MAX_FILE_BYTES", 100)
    assert midi.load_bytes(simple_song()).error.endswith("over the 100 byte limit")
    monkeypatch.setattr(midi, "MAX_FILE_BYTES", 10**6)
    monkeypatch.setattr(midi, "MAX_NOTES", 2)
    assert midi.load_bytes(simple_song()).error == "over 2 notes: not a playable song"
    monkeypatch.setattr(midi, "MAX_NOTES", 10**6)
    monkeypatch.setattr(smf, "file_facts", lambda data, spans: [smf.ChunkFacts()] * len(spans))
    assert midi.load_bytes(simple_song()).error == (
        "note events could not be matched to tracks and channels")
    COVERED.update({"unreadable", "too_large", "too_many_notes", "unmatched_notes"})


def test_every_reason_is_covered():
    """Runs last in this file: each entry of REASONS was produced by one of the tests above."""
    from deeprock.music.load_reasons import REASONS

    if len(COVERED) < 3:
        pytest.skip("run with the whole file")
    assert set(REASONS) == COVERED
