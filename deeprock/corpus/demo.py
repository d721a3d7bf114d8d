"""The embedded default dataset: a deterministic corpus of synthetic rock songs as SMF files.

The corpus is deliberately dirty, like a MIDI folder scraped from the web: byte-identical and
re-saved duplicates, transposed copies, numbered versions, loops, tracks with no program or name,
and a few corrupt files. demo-manifest.json says what every file really is, so duplicate
detection, metadata inference and the repair code can be tested against the truth.
"""

from __future__ import annotations

import itertools
import json
import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from deeprock.atomic import write_atomic
from deeprock.corpus.demo_music import BAR, Note, Song, compose, encode

MANIFEST = "demo-manifest.json"
MIN_FILES = 12  # one original, one of each copy kind, one corrupt file of each defect
ARTISTS = (
    "iron_static", "voltage_choir", "rust_cathedral", "black_meridian", "neon_coyote",
    "the_gravel_saints", "dead_signal", "copper_wolves", "midnight_foundry", "sonic_avalanche",
    "cinder_kings", "velvet_hammer", "grim_highway", "electric_mirage", "stone_orbit",
)
ADJECTIVES = (
    "Thunder", "Iron", "Burning", "Electric", "Midnight", "Broken", "Wild", "Savage", "Steel",
    "Crimson", "Hollow", "Neon", "Rusty", "Howling", "Frozen", "Silver", "Dirty", "Restless",
    "Golden", "Ragged", "Heavy", "Lonely", "Rolling", "Shattered",
)
NOUNS = (
    "Road", "Heart", "Highway", "Engine", "Storm", "Machine", "Sky", "Fever", "Nights", "Dust",
    "Thunder", "Rain", "Anthem", "Rebel", "Wire", "Crown", "Ghost", "Riot", "Serpent", "Horizon",
    "Dream", "Fire", "Train", "Queen",
)
# Share of the corpus per defect kind; the rest are originals. Minimums keep every kind present.
SHARES = {"exact_duplicate": 0.07, "resaved_duplicate": 0.06, "transposed": 0.05,
          "version": 0.07, "loop": 0.04, "missing_metadata": 0.05, "corrupt": 0.065}
CORRUPTIONS = ("truncated", "rmid", "high_data_byte", "missing_end_of_track", "bad_chunk_length")


@dataclass
class Entry:
    """One manifest row; `data` (the file bytes) and `model` (its notes) stay out of the JSON."""

    path: str
    song: str
    kind: str
    of: str | None = None
    defect: str | None = None
    transpose: int = 0
    roles: list[str] = field(default_factory=list)  # true instrument of each MTrk after the first
    data: bytes = field(default=b"", repr=False)
    model: Song | None = field(default=None, repr=False)

    def row(self) -> dict[str, object]:
        keep = [f.name for f in fields(self) if f.name not in ("data", "model")]
        return {name: getattr(self, name) for name in keep}


def plan(files: int) -> dict[str, int]:
    """How many files of each kind; at least one of each kind, one corrupt file per defect."""
    if files < MIN_FILES:
        raise ValueError(f"the demo corpus needs at least {MIN_FILES} files, got {files}")
    counts = {k: max(len(CORRUPTIONS) if k == "corrupt" else 1, round(files * share))
              for k, share in SHARES.items()}
    return {"original": files - sum(counts.values()), **counts}


class _Corpus:
    """Names, paths and songs, all drawn from one seeded Random so a seed fixes the corpus."""

    def __init__(self, seed: int) -> None:
        self.seed, self.rng = seed, random.Random(seed)
        self.titles: list[str] = []
        self.rounds = 0
        self.paths: set[str] = set()  # casefolded, so the corpus also unpacks on macOS/Windows
        self.entries: list[Entry] = []
        self.songs = 0

    def claim(self, path: str) -> bool:
        if path.casefold() in self.paths:
            return False
        self.paths.add(path.casefold())
        return True

    def title(self) -> str:
        """A title not used before: Adjective_Noun, then Adjective_Noun_Pt2 once all are taken."""
        if not self.titles:
            self.rounds += 1
            tag = f"_Pt{self.rounds}" if self.rounds > 1 else ""
            self.titles = [f"{a}_{n}{tag}" for a in ADJECTIVES for n in NOUNS if a != n]
            self.rng.shuffle(self.titles)
        return self.titles.pop()

    def new_song(self, kind: str, suffix: str = "", loop: bool = False) -> Entry:
        """A freshly composed song, under a random artist; its own song id."""
        title, artist = self.title(), self.rng.choice(ARTISTS)
        ext = "MID" if self.rng.random() < 0.05 else "mid"
        path = f"{artist}/{title}{suffix}.{ext}"
        self.claim(path)
        song = compose(random.Random(f"{self.seed}/{self.songs}"), title.replace("_", " "), loop)
        self.songs += 1
        return Entry(path, f"{artist}/{title}", kind, model=song)

    def copy_path(self, src: str, suffixes: tuple[str, ...]) -> str:
        """Where a copy lands: same name under another artist, or a suffixed name in place."""
        artist, name = src.split("/")
        stem, ext = name.rsplit(".", 1)
        for attempt in itertools.count():
            if self.rng.random() < 0.5:
                path = f"{self.rng.choice(ARTISTS)}/{name}"
            else:
                number = attempt if attempt > 20 else ""  # a much-copied song
                path = f"{artist}/{stem}_{self.rng.choice(suffixes)}{number}.{ext}"
            if self.claim(path):
                return path
        raise AssertionError("unreachable")

    def add(self, entry: Entry, song: Song | None = None, tpb: int = 480) -> Entry:
        """Record an entry, encoding `song` (default: its own model) unless it has bytes."""
        if song is not None:
            entry.model = song
        assert entry.model is not None
        entry.roles = [p.role for p in entry.model.parts]
        if not entry.data:
            entry.data = encode(entry.model, tpb)
        self.entries.append(entry)
        return entry


def transpose(song: Song, semitones: int) -> Song:
    """Every pitched track shifted by the same interval; drums untouched."""
    parts = tuple(p if p.role == "drums" else
                  replace(p, notes=tuple((s, d, n + semitones, v) for s, d, n, v in p.notes))
                  for p in song.parts)
    return replace(song, parts=parts)


def _cut_bars(notes: tuple[Note, ...], at: int, bars: int) -> tuple[Note, ...]:
    """Drop `bars` bars starting at bar `at`, pulling later notes forward."""
    lo, hi = at * BAR, (at + bars) * BAR
    return tuple((s if s < lo else s - (hi - lo), d, n, v) for s, d, n, v in notes
                 if not lo <= s < hi)


def _repeat_bars(notes: tuple[Note, ...], at: int, bars: int) -> tuple[Note, ...]:
    """Play bars [at, at+bars) twice, pushing later notes back."""
    lo, hi = at * BAR, (at + bars) * BAR
    moved = [(s if s < hi else s + hi - lo, d, n, v) for s, d, n, v in notes]
    return tuple(sorted(moved + [(s + hi - lo, d, n, v) for s, d, n, v in notes if lo <= s < hi]))


def vary(song: Song, rng: random.Random) -> tuple[Song, str]:
    """A numbered version: a few rhythm-guitar notes moved, maybe a four-bar section dropped
    (unless a part would be left silent) or played twice. Returns the new song and what
    changed."""
    first = song.parts[0]
    notes = list(first.notes)
    changed = rng.sample(range(len(notes)), rng.randint(3, 6))
    for i in changed:
        s, d, n, v = notes[i]
        notes[i] = (s, d, n + rng.choice((-2, -1, 1, 2)), v)
    parts = (replace(first, notes=tuple(notes)), *song.parts[1:])
    what, bars = f"{len(changed)} notes changed", song.bars
    op, at = rng.choice(("drop", "add", "none")), rng.randrange(1, song.bars - 4)
    edit = _cut_bars if op == "drop" else _repeat_bars
    edited = tuple(replace(p, notes=edit(p.notes, at, 4)) for p in parts)
    if ((op == "drop" and bars >= 12) or (op == "add" and bars <= 36)) and all(
            p.notes for p in edited):  # never drop the only chorus a strummed part plays
        parts, bars = edited, bars + (-4 if op == "drop" else 4)
        what += f"; bars {at + 1}-{at + 4} {'dropped' if op == 'drop' else 'repeated'}"
    return replace(song, bars=bars, parts=parts), what


def _version_groups(rng: random.Random, versions: int) -> list[int]:
    """Split the numbered versions into songs with one or two extra versions each."""
    groups = []
    while versions > 0:
        groups.append(min(versions, rng.choice((1, 1, 2))))
        versions -= groups[-1]
    return groups


def _originals(corpus: _Corpus, count: int, groups: list[int]) -> list[Entry]:
    """Originals; the first len(groups) are version bases named Song_1, followed by Song_2..."""
    originals = []
    for i in range(count):
        base = corpus.add(corpus.new_song("original", "_1" if i < len(groups) else ""))
        originals.append(base)
        assert base.model is not None
        for number in range(2, 2 + (groups[i] if i < len(groups) else 0)):
            song, what = vary(base.model, corpus.rng)
            stem = base.path.rsplit("_", 1)[0]
            path = f"{stem}_{number}.{'MID' if number == 2 else 'mid'}"
            corpus.claim(path)
            corpus.add(Entry(path, base.song, "version", base.path, what), song)
    return originals


def _exact(corpus: _Corpus, src: Entry) -> None:
    path = corpus.copy_path(src.path, ("copy", "backup", "final"))
    corpus.add(Entry(path, src.song, "exact_duplicate", src.path, "byte copy", data=src.data),
               src.model)


def _resaved(corpus: _Corpus, src: Entry) -> None:
    """Same notes, saved by another program: other resolution and/or tempo, tracks shuffled."""
    rng, song = corpus.rng, src.model
    assert song is not None
    tpb, bpm = rng.choice((96, 192, 960, 480)), song.bpm
    if tpb == 480 or rng.random() < 0.4:
        delta = rng.choice((-1, 1)) * rng.randint(3, 20)
        bpm += delta if 80 <= bpm + delta <= 180 else -delta
    changes = [f"ticks_per_beat {tpb}"] if tpb != 480 else []
    changes += [f"tempo {song.bpm}->{bpm} bpm"] if bpm != song.bpm else []
    parts = list(song.parts)
    if rng.random() < 0.5:
        rng.shuffle(parts)
        parts = [replace(p, name=f"{p.name} ({p.channel + 1})") for p in parts]
        changes.append("tracks reordered and renamed")
    resaved = replace(song, bpm=bpm, parts=tuple(parts))
    path = corpus.copy_path(src.path, ("remaster", "edit", "v2"))
    corpus.add(Entry(path, src.song, "resaved_duplicate", src.path, "; ".join(changes)),
               resaved, tpb)


def _transposed(corpus: _Corpus, src: Entry) -> None:
    semis = corpus.rng.choice((-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 7))
    path = corpus.copy_path(src.path, ("transposed", "alt_key", "capo"))
    assert src.model is not None
    corpus.add(Entry(path, src.song, "transposed", src.path, f"transposed {semis:+d}", semis),
               transpose(src.model, semis))


def _missing_metadata(corpus: _Corpus) -> None:
    """No program changes, tracks named "Track N" or not at all: instruments must be inferred."""
    entry = corpus.new_song("missing_metadata")
    song, rng = entry.model, corpus.rng
    assert song is not None
    parts = tuple(replace(p, program=None, name=rng.choice((None, f"Track {i + 2}")))
                  for i, p in enumerate(song.parts))
    title = song.title if rng.random() < 0.5 else None
    entry.defect = "no program changes; tracks unnamed or named 'Track N'"
    corpus.add(entry, replace(song, title=title, parts=parts))


def _chunks(data: bytes) -> list[tuple[int, int]]:
    """(body offset, declared length) of every chunk after MThd, in a file we wrote."""
    chunks, pos = [], 8 + int.from_bytes(data[4:8], "big")
    while pos < len(data):
        length = int.from_bytes(data[pos + 4 : pos + 8], "big")
        chunks.append((pos + 8, length))
        pos += 8 + length
    return chunks


def _events(data: bytes, start: int, length: int) -> Iterator[tuple[int, int, int]]:
    """(event offset, status, offset of its first data byte or meta type) of one MTrk body."""
    pos, status = start, 0
    while pos < start + length:
        event = pos
        while data[pos] & 0x80:  # delta time
            pos += 1
        pos += 1
        if data[pos] & 0x80:  # else running status
            status, pos = data[pos], pos + 1
        yield event, status, pos
        if status == 0xFF:
            pos += 2 + data[pos + 1]  # our meta payloads are all shorter than 128 bytes
        else:
            pos += 1 if status & 0xF0 in (0xC0, 0xD0) else 2


def _truncated(data: bytes, rng: random.Random) -> bytes:
    start, length = _chunks(data)[-1]
    return data[: start + rng.randint(length // 4, 3 * length // 4)]


def _rmid(data: bytes, rng: random.Random) -> bytes:
    body = b"RMID" + b"data" + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _high_data_byte(data: bytes, rng: random.Random) -> bytes:
    """Velocities with the top bit set, as a writer storing signed or 8-bit values would."""
    start, length = _chunks(data)[1]
    velocities = [pos + 1 for _, status, pos in _events(data, start, length)
                  if status & 0xF0 == 0x90 and data[pos + 1] > 0]
    out = bytearray(data)
    for pos in rng.sample(velocities, rng.randint(1, 3)):
        out[pos] |= 0x80
    return bytes(out)


def _missing_end_of_track(data: bytes, rng: random.Random) -> bytes:
    start, length = rng.choice(_chunks(data)[1:])
    eot = next(e for e, status, pos in _events(data, start, length)
               if status == 0xFF and data[pos] == 0x2F)
    body = data[start:eot]
    return data[: start - 4] + struct.pack(">I", len(body)) + body + data[start + length :]


def _bad_chunk_length(data: bytes, rng: random.Random) -> bytes:
    """A track chunk length that is off by a few bytes, though every byte is present."""
    start, length = rng.choice(_chunks(data)[1:-1])
    wrong = length + rng.choice((-1, 1)) * rng.randint(3, 40)
    return data[: start - 4] + struct.pack(">I", wrong) + data[start:]


BREAKERS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncated": _truncated, "rmid": _rmid, "high_data_byte": _high_data_byte,
    "missing_end_of_track": _missing_end_of_track, "bad_chunk_length": _bad_chunk_length,
}


def _corrupt(corpus: _Corpus, defect: str) -> None:
    entry = corpus.new_song("corrupt")
    entry.defect = defect
    assert entry.model is not None
    entry.data = BREAKERS[defect](encode(entry.model), corpus.rng)
    corpus.add(entry)


def _build(files: int, seed: int) -> list[Entry]:
    counts = plan(files)
    corpus = _Corpus(seed)
    groups = _version_groups(corpus.rng, counts["version"])
    originals = _originals(corpus, counts["original"], groups)
    for kind, make in (("exact_duplicate", _exact), ("resaved_duplicate", _resaved),
                       ("transposed", _transposed)):
        for _ in range(counts[kind]):
            make(corpus, corpus.rng.choice(originals))
    for _ in range(counts["loop"]):
        corpus.add(corpus.new_song("loop", loop=True)).defect = "one riff repeated throughout"
    for _ in range(counts["missing_metadata"]):
        _missing_metadata(corpus)
    for i in range(counts["corrupt"]):
        _corrupt(corpus, CORRUPTIONS[i % len(CORRUPTIONS)])
    return corpus.entries


def generate(out_dir: Path, files: int = 150, seed: int = 0) -> list[Path]:
    """Write the demo corpus into out_dir; returns the written paths (sorted).

    Deterministic for a given seed. The paths are the `files` MIDI files; the manifest,
    out_dir/demo-manifest.json, lists each with what it really is.
    """
    entries = sorted(_build(files, seed), key=lambda e: e.path)
    out_dir = Path(out_dir)
    for entry in entries:
        write_atomic(out_dir / entry.path, entry.data)
    manifest = {"seed": seed, "files": [e.row() for e in entries]}
    write_atomic(out_dir / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode())
    return sorted(out_dir / e.path for e in entries)
