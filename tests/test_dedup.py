"""Duplicates: content keys, and every group kind on variants made from real files."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import mido
import numpy as np
import pytest

from deeprock.corpus.catalog import Catalog
from deeprock.corpus.dedup import DuplicateGroup, find_duplicates
from deeprock.corpus.demo import MANIFEST, generate
from deeprock.corpus.scan import scan
from deeprock.corpus.stems import title_stem
from deeprock.music import fingerprint, midi, tokens
from tests.conftest import midi_bytes, notes
from tests.test_midi import rmid

Edit = Callable[[int, mido.Message], mido.Message]


def load(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


def save(song: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    song.save(file=buffer)
    return buffer.getvalue()


def edited(data: bytes, edit: Edit) -> bytes:
    """Every message of every track (with its track index) through `edit`."""
    song = load(data)
    for index, track in enumerate(song.tracks):
        track[:] = [edit(index, message) for message in track]
    return save(song)


def guitar_with_drums(data: bytes) -> bytes:
    """A real file made a rock song: every channel played by overdriven guitar (so that its
    tokens are kept), and a drum track added."""
    song = load(data)
    for track in song.tracks:
        channels = sorted({m.channel for m in track if m.type == "note_on"})
        track[:] = [mido.Message("program_change", channel=c, program=29) for c in channels] + [
            m for m in track if m.type != "program_change"]
    beat = song.ticks_per_beat
    hits = [(i * beat, (36, 42, 38, 42)[i % 4], beat // 4) for i in range(64)]
    song.tracks.append(mido.MidiTrack(notes(*hits, channel=9, program=None, name="Drums")))
    song.type = 1
    return save(song)


def transposed(data: bytes, semitones: int) -> bytes:
    def shift(_: int, message: mido.Message) -> mido.Message:
        if message.type in ("note_on", "note_off") and message.channel != 9:
            return message.copy(note=message.note + semitones)
        return message
    return edited(data, shift)


def resaved(data: bytes, factor: int, tempo_factor: float) -> bytes:
    """Another program's save: `factor` times the resolution, another tempo, tracks reordered
    and renamed."""
    def rewrite(index: int, message: mido.Message) -> mido.Message:
        message = message.copy(time=message.time * factor)
        if message.type == "set_tempo":
            return message.copy(tempo=round(message.tempo * tempo_factor))
        return message.copy(name=f"Track {index}") if message.type == "track_name" else message
    song = load(edited(data, rewrite))
    song.ticks_per_beat *= factor
    song.tracks[1:] = song.tracks[:0:-1]
    return save(song)


def with_notes_changed(data: bytes, every: int) -> bytes:
    """Every `every`-th note of the first note track a whole tone up (its note-off too)."""
    target = next(i for i, t in enumerate(load(data).tracks) if any(
        m.type == "note_on" for m in t))
    pending: set[int] = set()
    count = 0

    def change(index: int, message: mido.Message) -> mido.Message:
        nonlocal count
        if index != target or message.type not in ("note_on", "note_off"):
            return message
        if message.type == "note_on" and message.velocity:
            count += 1
            if count % every or message.note in pending:
                return message
            pending.add(message.note)
        elif message.note in pending:
            pending.discard(message.note)
        else:
            return message
        return message.copy(note=message.note + 2)
    return edited(data, change)


def write(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


def groups_of(root: Path, tmp_path: Path) -> list[DuplicateGroup]:
    catalog_path = tmp_path / f"{root.name}.sqlite"
    scan([str(root)], str(catalog_path), jobs=1)
    with Catalog(catalog_path) as catalog:
        return find_duplicates(catalog)


@pytest.fixture(scope="module")
def real(music21_midi_files) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in music21_midi_files}


def keys(data: bytes) -> tuple[str | None, str | None]:
    return fingerprint.content_keys(midi.load_bytes(data))


def test_content_key_ignores_container_resolution_tempo_and_track_order(real):
    base = guitar_with_drums(real["test09.mid"])
    content, transposed_key = keys(base)
    assert content is not None and content != transposed_key
    assert keys(resaved(base, 5, 1.3)) == (content, transposed_key)
    assert keys(rmid(base)) == (content, transposed_key)
    delayed = edited(base, lambda i, m: m.copy(time=m.time + 4 * 192)
                     if i > 0 and m.type == "track_name" else m)  # a bar of rest before all
    assert keys(delayed) == (content, transposed_key)
    up = keys(transposed(base, 3))
    assert up[1] == transposed_key and up[0] != content
    drums_too = edited(transposed(base, 3), lambda _, m: m.copy(note=m.note + 3) if
                       m.type in ("note_on", "note_off") and m.channel == 9 else m)
    assert keys(drums_too)[1] != transposed_key  # drums are instruments, not pitches
    assert keys(with_notes_changed(base, 300))[0] != content
    assert keys(midi_bytes([[mido.MetaMessage("set_tempo", tempo=400_000)]])) == (None, None)


def test_compiled_quantizer_matches_the_token_grid():
    rng = np.random.default_rng(0)
    for ticks_per_beat in (96, 120, 192, 384, 480, 960, 1024, 7):
        ticks = np.concatenate([np.arange(4000), rng.integers(0, 10**9, 500)])
        expected = tokens.quantize_twelfths(ticks / ticks_per_beat)
        found = [fingerprint.twelfths(int(t), ticks_per_beat) for t in ticks]
        assert found == expected.tolist(), ticks_per_beat


@pytest.mark.parametrize(("path", "stem"), [
    ("a/Song_1.mid", "a/song"), ("a/Song_2.MID", "a/song"), ("a/Song 2.mid", "a/song"),
    ("a/Song (2).mid", "a/song"), ("a/Song-v2.kar", "a/song"), ("a/Song2.mid", "a/song"),
    ("a/Song.mid", "a/song"), ("b/Song_2.mid", "b/song"), ("a/Blink182.mid", "a/blink182"),
    ("a/Blink.mid", "a/blink"), ("a/Your_Sweet_666.mid", "a/your_sweet_666"),
    ("a/80.mid", "a/80"), ("a/Wall_Part_2.mid", "a/wall_part_2"),
    ("a/New_Model_No_15.mid", "a/new_model_no_15"), ("a/Harvester_of_Sorrow_2.mid",
                                                     "a/harvester_of_sorrow"),
])
def test_numbered_names_share_a_title_stem(path, stem):
    assert title_stem(path) == stem


def test_every_kind_is_found_once_on_variants_of_real_files(real, tmp_path):
    base = guitar_with_drums(real["test09.mid"])
    song = guitar_with_drums(real["test03.mid"])
    root = tmp_path / "variants"
    write(root, {
        "piano/Studiul.mid": base, "piano/Studiul_backup.mid": base,
        "resaved/Studiul.mid": resaved(base, 5, 1.3), "piano/Studiul.rmi": rmid(base),
        "capo/Studiul.mid": transposed(base, 3),
        # Song_2 keeps only a quarter of its shingles: a version by its name, not by similarity
        "band/Song_1.mid": song, "band/Song_2.MID": with_notes_changed(song, 8),
        # distinct songs, two of them named as if they were versions of one another
        "band/Other_1.mid": guitar_with_drums(real["test07.mid"]),
        "band/Other_2.mid": guitar_with_drums(real["test04.mid"]),
        **{f"m21/{name}": real[name] for name in ("test01.mid", "test02.mid", "test06.mid")},
    })
    found = [group.to_dict() for group in groups_of(root, tmp_path)]
    assert found == [
        {"kind": "exact", "files": ["piano/Studiul.mid", "piano/Studiul_backup.mid"]},
        {"kind": "content", "files": ["piano/Studiul.mid", "piano/Studiul.rmi",
                                      "resaved/Studiul.mid"]},
        {"kind": "transposed", "files": ["capo/Studiul.mid", "piano/Studiul.mid"]},
        {"kind": "version", "files": ["band/Song_1.mid", "band/Song_2.MID"]},
    ]


def test_versions_found_by_similarity_under_other_names(real, tmp_path):
    song = guitar_with_drums(real["test09.mid"])
    root = tmp_path / "renamed"
    write(root, {"a/Studiul.mid": song, "b/Prokofiev_op2.mid": with_notes_changed(song, 60),
                 "a/March.mid": guitar_with_drums(real["test07.mid"]),
                 "b/Chorale.mid": guitar_with_drums(real["test03.mid"])})
    found = [group.to_dict() for group in groups_of(root, tmp_path)]
    assert found == [{"kind": "version", "files": ["a/Studiul.mid", "b/Prokofiev_op2.mid"]}]


def connected(groups: list[DuplicateGroup], kinds: tuple[str, ...]) -> dict[str, set[str]]:
    """Each file → the files it is linked to through groups of these kinds (transitively)."""
    links: dict[str, set[str]] = {}
    for group in (g for g in groups if g.kind in kinds):
        joined = set(group.files).union(*(links.get(path, set()) for path in group.files))
        for path in joined:
            links[path] = joined
    return links


def test_demo_corpus_groups_agree_with_the_manifest(tmp_path):
    root = tmp_path / "demo"
    generate(root, files=40, seed=3)
    groups = groups_of(root, tmp_path)
    entries = json.loads((root / MANIFEST).read_text())["files"]
    song = {entry["path"]: entry["song"] for entry in entries}
    for group in groups:
        assert len({song[path] for path in group.files}) == 1, group
    copies = connected(groups, ("exact", "content", "transposed"))
    everything = connected(groups, ("exact", "content", "transposed", "version"))
    exact = [set(g.files) for g in groups if g.kind == "exact"]
    for entry in entries:
        path, source = entry["path"], entry["of"]
        if entry["kind"] == "exact_duplicate":
            assert any({path, source} <= files for files in exact), path
        if entry["kind"] in ("resaved_duplicate", "transposed"):
            assert source in copies.get(path, set()), path
        if entry["kind"] == "version":
            assert source in everything.get(path, set()), path
    assert {g.kind for g in groups} == {"exact", "content", "transposed", "version"}


@pytest.mark.corpus
def test_shared_corpus_groups(shared_corpus, tmp_path):
    catalog_path = tmp_path / "corpus.sqlite"
    scan([str(shared_corpus)], str(catalog_path), jobs=os.cpu_count())
    with Catalog(catalog_path) as catalog:
        started = time.perf_counter()
        groups = find_duplicates(catalog)
        seconds = time.perf_counter() - started
    assert seconds < 5
    found = {(g.kind, tuple(g.files)) for g in groups}
    sabbath = "b/black_sabbath/"
    assert ("exact", (f"{sabbath}Planet_Caravan.mid", "p/pantera/Planet_Caravan.mid")) in found
    assert ("content", tuple(f"{sabbath}{name}.mid" for name in (
        "Paranoid", "Paranoid_3", "Paranoid_4"))) in found
    assert ("version", ("n/nirvana/Something_In_The_Way_1.mid",  # a remix, by similarity
                        "n/nirvana/Something_In_The_Way_3_Daniel_Johns_Remix.mid")) in found
    for group in groups:
        # "The Unforgiven II" is another song than "The Unforgiven III", whatever the names say
        assert not {"m/metallica/Unforgiven2.mid", "m/metallica/Unforgiven_3.mid"} <= set(
            group.files)
        assert len(group.files) == len(set(group.files)) >= 2


def test_empty_catalog_has_no_groups(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    assert groups_of(root, tmp_path) == []
