"""The demo corpus: deterministic, laid out as promised, and its manifest tells the truth."""

from __future__ import annotations

import io
import json
import re
import struct
from collections import Counter
from fractions import Fraction
from pathlib import Path

import mido
import numpy as np
import pytest

from deeprock.corpus.demo import CORRUPTIONS, MANIFEST, generate, plan
from deeprock.corpus.windows import WindowStats
from deeprock.music import midi
from deeprock.music.tokens import tokenize

KINDS = {"original", "exact_duplicate", "resaved_duplicate", "transposed", "version", "loop",
         "missing_metadata", "corrupt"}
COPIES = ("exact_duplicate", "resaved_duplicate", "transposed", "version")
BLUES = {0, 3, 5, 6, 7, 10}
Note = tuple[int, int, Fraction]  # channel, pitch, start in beats


class Demo:
    """The default corpus (150 files, seed 0), each file parsed at most once."""

    def __init__(self, out: Path) -> None:
        self.out, self.paths = out, generate(out)
        self.entries: list[dict] = json.loads((out / MANIFEST).read_text())["files"]
        self._mids: dict[str, mido.MidiFile] = {}

    def of_kind(self, kind: str) -> list[dict]:
        found = [e for e in self.entries if e["kind"] == kind]
        assert found, f"no {kind} in the corpus"
        return found

    def mid(self, rel: str) -> mido.MidiFile:
        if rel not in self._mids:
            self._mids[rel] = mido.MidiFile(self.out / rel)
        return self._mids[rel]

    def notes(self, rel: str) -> list[Note]:
        return notes(self.mid(rel))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return Demo(tmp_path_factory.mktemp("demo"))


def notes(mid: mido.MidiFile) -> list[Note]:
    """Every note-on, with its exact start in beats, so files at other resolutions compare."""
    out = []
    for track in mid.tracks:
        now = 0
        for msg in track:
            now += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                out.append((msg.channel, msg.note, Fraction(now, mid.ticks_per_beat)))
    return sorted(out)


def tempo(mid: mido.MidiFile) -> int:
    return next(m.tempo for m in mid.tracks[0] if m.type == "set_tempo")


def onsets(track: mido.MidiTrack) -> list[int]:
    ticks, now = set(), 0
    for msg in track:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            ticks.add(now)
    return sorted(ticks)


def repeats(song: list[Note]) -> bool:
    """Every bar equals bar 0, or every bar equals the bar two before it."""
    by_bar: dict[int, set[tuple[int, int, Fraction]]] = {}
    for c, p, s in song:
        by_bar.setdefault(int(s // 4), set()).add((c, p, s % 4))
    bars = [by_bar.get(b, set()) for b in range(max(by_bar) + 1)]
    return len(bars) >= 8 and any(all(bar == bars[b % period] for b, bar in enumerate(bars))
                                  for period in (1, 2))


def chunk_chain(data: bytes) -> list[tuple[bytes, int, int]]:
    """(tag, body offset, declared length) of each chunk, following the declared lengths."""
    chunks, pos = [], 0
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        chunks.append((data[pos : pos + 4], pos + 8, length))
        pos += 8 + length
    return chunks


def test_same_seed_same_bytes_other_seed_other_corpus(tmp_path: Path) -> None:
    a, b, c = (generate(tmp_path / name, files=20, seed=seed)
               for name, seed in (("a", 0), ("b", 0), ("c", 1)))
    assert [p.relative_to(tmp_path / "a") for p in a] == [p.relative_to(tmp_path / "b") for p in b]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert (tmp_path / "a" / MANIFEST).read_bytes() == (tmp_path / "b" / MANIFEST).read_bytes()
    assert {p.relative_to(tmp_path / "a") for p in a} != {p.relative_to(tmp_path / "c") for p in c}
    assert {p.read_bytes() for p in a}.isdisjoint(p.read_bytes() for p in c)


def test_count_and_layout(demo: Demo) -> None:
    assert len(demo.paths) == 150 and demo.paths == sorted(demo.paths)
    on_disk = sorted(p for p in demo.out.rglob("*") if p.is_file() and p.name != MANIFEST)
    assert on_disk == demo.paths  # and no temp file left behind
    for path in demo.paths:
        artist, name = path.relative_to(demo.out).parts
        assert re.fullmatch(r"[a-z]+(_[a-z]+)+", artist), artist
        assert re.fullmatch(r"[A-Z][a-z]+_[A-Z][a-z]+(_[a-z0-9_]+)?\.(mid|MID)", name), name
    suffixes = Counter(p.suffix for p in demo.paths)
    assert suffixes[".MID"] >= 3 and suffixes[".mid"] > 100
    assert len({p.parent for p in demo.paths}) >= 10


def test_manifest_matches_files(demo: Demo) -> None:
    assert [demo.out / e["path"] for e in demo.entries] == demo.paths
    by_path = {e["path"]: e for e in demo.entries}
    assert Counter(e["kind"] for e in demo.entries) == plan(150)
    for e in demo.entries:
        assert set(e) >= {"path", "song", "kind", "of", "defect", "transpose"}
        assert e["kind"] in KINDS
        if e["kind"] in COPIES:
            src = by_path[e["of"]]
            assert src["kind"] == "original" and src["song"] == e["song"]
        else:
            assert e["of"] is None
        assert (e["defect"] is None) == (e["kind"] == "original")
        assert (e["transpose"] != 0) == (e["kind"] == "transposed")
    songs = [e["song"] for e in demo.entries if e["kind"] not in COPIES]
    assert len(songs) == len(set(songs))


def test_too_few_files_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, files=11)
    assert not any(tmp_path.iterdir())


def test_small_corpus_keeps_every_kind(tmp_path: Path) -> None:
    assert len(generate(tmp_path, files=20, seed=3)) == 20
    entries = json.loads((tmp_path / MANIFEST).read_text())["files"]
    assert {e["kind"] for e in entries} == KINDS
    assert {e["defect"] for e in entries if e["kind"] == "corrupt"} == set(CORRUPTIONS)


def test_playable_files_are_well_formed(demo: Demo) -> None:
    for e in demo.entries:
        if e["kind"] == "corrupt":
            continue
        mid = demo.mid(e["path"])
        assert mid.type == 1 and {"set_tempo", "time_signature"} <= {m.type for m in mid.tracks[0]}
        assert all(t and t[-1].type == "end_of_track" for t in mid.tracks)
        channels = [{m.channel for m in t if m.type == "note_on"} for t in mid.tracks[1:]]
        assert all(len(c) == 1 for c in channels) and len(set.union(*channels)) == len(channels)
        assert [c == {9} for c in channels] == [r == "drums" for r in e["roles"]]
        programs = [[m.program for m in t if m.type == "program_change"] for t in mid.tracks[1:]]
        if e["kind"] == "missing_metadata":
            assert not any(programs)
            assert all(t.name in ("", f"Track {i + 2}") for i, t in enumerate(mid.tracks[1:]))
        else:
            assert all(programs) and any(p[0] in (33, 34) for p in programs)
            assert any(24 <= p[0] <= 31 for p in programs)
        assert "guitar" in e["roles"]


def test_originals_are_rock_in_e_or_a(demo: Demo) -> None:
    for e in demo.of_kind("original"):
        mid = demo.mid(e["path"])
        assert mid.ticks_per_beat == 480 and 80 <= mido.tempo2bpm(tempo(mid)) <= 180
        assert 8 <= sum(m.time for m in mid.tracks[0]) / 480 / 4 <= 40
        bass = next(t for t in mid.tracks if any(m.type == "program_change" and m.program in
                                                 (33, 34) for m in t))
        roots = {m.note % 12 for m in bass if m.type == "note_on"}
        assert any(roots <= {(key + d) % 12 for d in BLUES} for key in (4, 9)), e["path"]
        drums = {m.note for t in mid.tracks for m in t if m.type == "note_on" and m.channel == 9}
        assert drums == {36, 38, 42}


def test_songs_are_distinct(demo: Demo) -> None:
    """Not one riff transposed: the rhythm and intervals of the first bars differ."""
    signatures = []
    for e in demo.entries:
        if e["kind"] in ("original", "loop", "missing_metadata"):
            first = sorted((s, p) for c, p, s in demo.notes(e["path"]) if c == 0)[:48]
            signatures.append(tuple((s, p - first[0][1]) for s, p in first))
    assert len(set(signatures)) == len(signatures) > 100


def test_strums_and_triplets_present(demo: Demo) -> None:
    """Clean/steel chords strummed over 5-25 ms; triplet onsets on the third-of-a-beat grid."""
    strummed = triplets = 0
    for e in demo.of_kind("original"):
        mid = demo.mid(e["path"])
        ms_per_tick = tempo(mid) / 1000 / mid.ticks_per_beat
        for track in mid.tracks[1:]:
            ticks = onsets(track)
            triplets += any(t % 160 == 0 and t % 240 for t in ticks)
            if {m.program for m in track if m.type == "program_change"} & {25, 27}:
                strums = [t for t in ticks if t % 240 == 0]  # a strum starts on an eighth
                spreads = {max(t for t in ticks if s <= t < s + 60) - s for s in strums}
                assert all(4.99 <= g * ms_per_tick <= 25.01 for g in spreads), e["path"]
                strummed += 1
    assert strummed >= 10 and triplets >= 10


def test_exact_duplicates_are_byte_copies(demo: Demo) -> None:
    for e in demo.of_kind("exact_duplicate"):
        assert e["path"] != e["of"]
        assert (demo.out / e["path"]).read_bytes() == (demo.out / e["of"]).read_bytes()


def test_transposed_copies_shift_pitches(demo: Demo) -> None:
    for e in demo.of_kind("transposed"):
        shift = e["transpose"]
        expected = sorted((c, p if c == 9 else p + shift, s) for c, p, s in demo.notes(e["of"]))
        assert shift != 0 and demo.notes(e["path"]) == expected


def test_resaved_duplicates_keep_notes_in_beats(demo: Demo) -> None:
    for e in demo.of_kind("resaved_duplicate"):
        copy, src = demo.mid(e["path"]), demo.mid(e["of"])
        assert (copy.ticks_per_beat, tempo(copy)) != (src.ticks_per_beat, tempo(src))
        a, b = demo.notes(e["path"]), demo.notes(e["of"])
        assert [n[:2] for n in a] == [n[:2] for n in b]
        assert max(abs(x[2] - y[2]) for x, y in zip(a, b, strict=True)) <= Fraction(1, 96)


def test_versions_similar_not_identical(demo: Demo) -> None:
    for e in demo.of_kind("version"):
        stem, number = e["path"].rsplit("_", 1)
        assert e["of"] in (f"{stem}_1.mid", f"{stem}_1.MID")
        assert re.fullmatch(r"[2-9]\.(mid|MID)", number)
        a, b = demo.notes(e["path"]), demo.notes(e["of"])
        common = Counter(n[:2] for n in a) & Counter(n[:2] for n in b)
        assert a != b and sum(common.values()) >= 0.5 * max(len(a), len(b))
    assert any(e["path"].endswith("_2.MID") for e in demo.entries)


def test_loops_repeat(demo: Demo) -> None:
    """A loop is one bar or two over and over, in every track; most originals are not."""
    for e in demo.of_kind("loop"):
        assert repeats(demo.notes(e["path"])), e["path"]
    originals = demo.of_kind("original")
    assert sum(repeats(demo.notes(e["path"])) for e in originals) < len(originals) / 10


def guitar_streams(demo: Demo, kind: str) -> list[np.ndarray]:
    """Token ids of every true guitar track of the files of one kind."""
    streams = []
    for e in demo.of_kind(kind):
        song = midi.load(demo.out / e["path"])
        streams += [tokenize(song, t).ids for t in song.tracks
                    if e["roles"][t.index - 1] == "guitar"]
    return streams


def test_window_filter_keeps_songs_and_drops_loops(demo: Demo) -> None:
    """At the post's defaults (100 tokens, kept with more than 10 distinct) songs are varied
    like a real collection, solos most of all; a loop is a few tokens over and over."""
    songs = WindowStats.from_streams(guitar_streams(demo, "original"), 100)
    assert songs.total > 3000 and songs.kept(10) > 0.6 * songs.total
    assert 12 <= np.median(songs.distinct) <= 16 and np.percentile(songs.distinct, 99) >= 20
    for ids in guitar_streams(demo, "loop"):
        assert 2 <= len(set(ids.tolist())) <= 4
    loops = WindowStats.from_streams(guitar_streams(demo, "loop"), 50)
    assert loops.total > 0 and loops.kept(10) == 0


def test_corrupt_files_broken_as_stated(demo: Demo) -> None:
    for e in demo.of_kind("corrupt"):
        path, defect = demo.out / e["path"], e["defect"]
        data = path.read_bytes()
        if defect == "missing_end_of_track":
            assert any(t[-1].type != "end_of_track" for t in mido.MidiFile(path).tracks)
            assert any(data[s + n - 3 : s + n] != b"\xff\x2f\x00" for _, s, n in chunk_chain(data))
            continue
        with pytest.raises((OSError, EOFError, ValueError)):
            mido.MidiFile(path)
        if defect == "truncated":
            tag, start, length = chunk_chain(data)[-1]
            assert tag == b"MTrk" and start + length > len(data)
        elif defect == "rmid":
            assert data[:4] == b"RIFF" and data[8:16] == b"RMIDdata"
            assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
            smf = data[20 : 20 + struct.unpack("<I", data[16:20])[0]]
            assert len(mido.MidiFile(file=io.BytesIO(smf)).tracks) == len(e["roles"]) + 1
        elif defect == "high_data_byte":
            assert len(mido.MidiFile(path, clip=True).tracks) == len(e["roles"]) + 1
        else:
            assert defect == "bad_chunk_length"
            chain = chunk_chain(data)
            tags_ok = all(tag == b"MTrk" for tag, _, _ in chain[1:])
            assert chain[0][0] == b"MThd" and not (tags_ok and chain[-1][1] + chain[-1][2]
                                                   == len(data))
    assert {e["defect"] for e in demo.of_kind("corrupt")} == set(CORRUPTIONS)
