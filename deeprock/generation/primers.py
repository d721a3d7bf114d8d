"""Where a riff starts: a window of the run's training songs, a catalog song, an upload, nothing.

    primer = window_primer(catalog, run.split, rng, tokens=64)   # one of the run's tracks
    primer = song_primer("data/demo.sqlite", "artist/song.mid", tokens=64)
    primer = upload_primer(data, "my riff.mid")     # validated by deeprock.music.midi, size-limited
    meter = upload_meter(*upload_tracks(data, "waltz.mid"))   # (3, 4): the riff's default
    primer = Primer.none()

A primer is a Riff (tokens with their rhythm) plus where it came from and where its tokens fall
in their bars (the song's own meters; the generated tokens continue in the bar length of the
primer's last meter); its tokens keep their spelling even when the run's vocabulary does not
know them (the model then reads <unk>).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeprock.corpus.artists import ArtistRule, artist_of, artists_path
from deeprock.generation.riff import Riff
from deeprock.music.tokens import TWELFTHS_PER_BAR, Meter, bar_twelfths_at
from deeprock.training.runs import RunSplit

UPLOAD_MAX_BYTES = 2 * 1024 * 1024  # a riff's MIDI is a few KB; a whole album is 1 MB
PRIMER_KINDS = ("window", "song", "upload", "none")
MAX_GAP_TWELFTHS = 96  # two 4/4 bars: a longer rest in a primer is shortened to this


class PrimerError(ValueError):
    """The primer cannot be made (no catalog, unknown song, bad upload): the message says why."""


@dataclass
class Primer:
    kind: str  # one of PRIMER_KINDS
    riff: Riff
    source: str = ""  # the song path, the sanitized upload name, or ""
    messages: list[str] = field(default_factory=list)
    # each token's place in its bar (twelfths from the bar line); None: 4/4 from the riff's start
    position_twelfths: np.ndarray | None = None
    bar_twelfths: int = TWELFTHS_PER_BAR  # the length of the last token's bar

    def __post_init__(self) -> None:
        if self.position_twelfths is None:
            self.position_twelfths = self.riff.onsets_twelfths() % TWELFTHS_PER_BAR
        self.position_twelfths = np.asarray(self.position_twelfths, np.int64)
        if len(self.position_twelfths) != len(self.riff):
            raise ValueError(f"a primer of {len(self.riff)} tokens needs as many positions, not "
                             f"{len(self.position_twelfths)}")

    @classmethod
    def none(cls) -> Primer:
        return cls("none", Riff([], np.zeros(0), np.zeros(0)))

    def describe(self) -> dict:
        """What settings.json keeps: enough to use the very same primer again."""
        return {"kind": self.kind, "source": self.source, "riff": self.riff.to_dict(),
                "position_twelfths": self.position_twelfths.tolist(),
                "bar_twelfths": self.bar_twelfths}

    @classmethod
    def from_description(cls, data: dict) -> Primer:
        """A saved primer; one saved before bar positions counts 4/4 bars from its start."""
        return cls(data["kind"], Riff.from_dict(data["riff"]), data.get("source", ""),
                   position_twelfths=data.get("position_twelfths"),
                   bar_twelfths=int(data.get("bar_twelfths", TWELFTHS_PER_BAR)))

    def last_window(self, window_tokens: int) -> Primer:
        """The last window_tokens tokens, saying so when the primer was longer."""
        riff = self.riff
        if len(riff) <= window_tokens:
            return self
        delta = riff.delta_twelfths[-window_tokens:].copy()
        delta[0] = 0
        cut = Riff(riff.tokens[-window_tokens:], delta, riff.duration_twelfths[-window_tokens:])
        note = (f"the primer has {len(riff)} tokens, more than the model's window of "
                f"{window_tokens}: its last {window_tokens} are used")
        return Primer(self.kind, cut, self.source, [*self.messages, note],
                      self.position_twelfths[-window_tokens:], self.bar_twelfths)


def sanitized_name(name: str) -> str:
    """A file name safe to store and show: no folders, only letters, digits, '.', '_', '-'."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(name.replace("\\", "/")))
    base = base.strip("._")[:80]
    return base or "upload.mid"


def _bar_places(delta: np.ndarray, positions: np.ndarray | None, meters: list[Meter] | None,
                start: int, end: int) -> dict:
    """Primer arguments for tokens start..end-1 of a song's stream: their bar positions and the
    bar length at the last one. A stream scanned before positions counts 4/4 bars from the
    song's start, as every riff did before."""
    onsets = np.cumsum(np.asarray(delta, np.int64))
    if positions is None:
        positions = onsets % TWELFTHS_PER_BAR
    bar = bar_twelfths_at(meters or [Meter(0, 4, 4)], int(onsets[end - 1])) if end > start \
        else TWELFTHS_PER_BAR
    return {"position_twelfths": np.asarray(positions[start:end], np.int64), "bar_twelfths": bar}


def _catalog_places(stream, start: int, end: int) -> dict:
    """_bar_places of a catalog stream (its meters as stored with its file)."""
    meters = [Meter(*meter) for meter in stream.meters] if stream.meters else None
    return _bar_places(stream.delta, stream.position, meters, start, end)


def _stream_riff(tokens: list[str], delta: np.ndarray, duration: np.ndarray) -> Riff:
    """A primer's riff: it starts on its first token, and a song's long rests (a verse the
    guitar sits out) shrink to MAX_GAP_TWELFTHS, for the ear and for the model alike."""
    delta = np.minimum(np.asarray(delta, np.int64), MAX_GAP_TWELFTHS)
    if len(delta):
        delta[0] = 0
    return Riff(tokens, delta, np.maximum(np.asarray(duration, np.int64), 1))


def _check_catalog(catalog_path: str) -> None:
    if not os.path.isfile(catalog_path):
        raise PrimerError(f"the catalog {catalog_path} is not there: choose another primer "
                          "(an upload or none) or name the catalog the run was trained on")


def open_run_catalog(catalog_path: str):
    from deeprock.corpus.catalog import Catalog, CatalogError

    _check_catalog(catalog_path)
    try:
        return Catalog(catalog_path)
    except CatalogError as error:
        raise PrimerError(str(error)) from error


@dataclass(frozen=True)
class RunStreams:
    """A run's tracks read from its catalog (read-only: shared by every caller)."""

    train: tuple  # catalog.Stream of each training track, in catalog order
    validation: tuple
    tokens: list[str]  # the catalog's token names by catalog id
    paths: dict[int, tuple[str, str]]  # file id → (root, path)


def run_streams(catalog_path: str, split: RunSplit) -> RunStreams:
    """The run's training and validation streams: exactly split.json's tracks, read once per
    catalog version and run selection, not on every Generate click (the window primers and
    the riff statistics share the reading). Runs whose split.json predates the tracks fall
    back to their files' guitar tracks, as the catalog labels them now."""
    return _read_run_streams(catalog_path, catalog_version(catalog_path), split)


def catalog_version(catalog_path: str) -> tuple:
    """What changes when the catalog does: the key of the caches over a run's tracks."""
    _check_catalog(catalog_path)
    stat = os.stat(catalog_path)
    wal = Path(catalog_path + "-wal")  # a write may sit in the WAL, the main file untouched
    return (stat.st_mtime_ns, stat.st_size, wal.stat().st_size if wal.exists() else 0)


@functools.lru_cache(maxsize=2)
def _read_run_streams(catalog_path: str, version: tuple, split: RunSplit) -> RunStreams:
    by_track = bool(split.train_tracks or split.validation_tracks)
    train, validation = ((set(split.train_tracks), set(split.validation_tracks)) if by_track
                         else (set(split.train_files), set(split.validation_files)))
    chosen: tuple[list, list] = ([], [])
    with open_run_catalog(catalog_path) as catalog:
        paths = catalog.file_keys()
        # a selection may name any track; older runs trained on their files' guitar tracks
        for stream in catalog.streams(guitar_only=not by_track):
            key = ((*paths[stream.file_id], stream.idx, stream.channel) if by_track
                   else paths[stream.file_id])
            if key in train or key in validation:
                chosen[key not in train].append(stream)
        return RunStreams(tuple(chosen[0]), tuple(chosen[1]), catalog.vocabulary.tokens, paths)


def _rule_stamp(catalog_path: str) -> float | None:
    """When the artist rule beside the catalog last changed (None: there is none)."""
    rule = artists_path(catalog_path)
    return rule.stat().st_mtime if rule.is_file() else None


@functools.lru_cache(maxsize=8)
def _primer_streams(catalog_path: str, version: tuple, rule_stamp: float | None,
                    split: RunSplit, artists: tuple[str, ...]) -> tuple:
    """The training streams a window primer may start in (longer than one token; of these
    artists only, if any), per catalog version and artist rule: not every Generate click
    putting every training track through the artist rule again."""
    read = _read_run_streams(catalog_path, version, split)
    streams = [s for s in read.train if len(s.ids) > 1]
    if artists:
        rule = ArtistRule.load(artists_path(catalog_path))
        streams = [s for s in streams if artist_of(read.paths[s.file_id][1], rule,
                                                   read.paths[s.file_id][0]) in artists]
    return tuple(streams)


def window_primer(catalog_path: str, split: RunSplit, rng: np.random.Generator,
                  tokens: int, artists: Collection[str] = ()) -> Primer:
    """A random window of `tokens` tokens from one of the run's training tracks; artists: from
    those artists' tracks only (riffs "in the style of" one start in its music: measured, the
    primer decides more of the style than the conditioning does, bench/RESULTS.md)."""
    version = catalog_version(catalog_path)
    read = _read_run_streams(catalog_path, version, split)
    streams = _primer_streams(catalog_path, version, _rule_stamp(catalog_path), split,
                              tuple(sorted(artists)))
    if not streams:
        named = (f"{len(split.train_tracks)} training tracks is" if split.train_tracks
                 else f"{len(split.train_files)} training files has a guitar track")
        by = f" by {', '.join(sorted(artists))}" if artists else ""
        raise PrimerError(f"none of the run's {named}{by} in {catalog_path}: rescanned since? "
                          "choose another primer")
    stream = streams[int(rng.integers(len(streams)))]
    length = min(tokens, len(stream.ids))
    start = int(rng.integers(len(stream.ids) - length + 1))
    end = start + length
    riff = _stream_riff([read.tokens[i] for i in stream.ids[start:end]],
                        stream.delta[start:end], stream.duration[start:end])
    return Primer("window", riff, f"{read.paths[stream.file_id][1]} (tokens {start}-{end - 1})",
                  **_catalog_places(stream, start, end))


def song_primer(catalog_path: str, song: str, tokens: int) -> Primer:
    """The opening `tokens` tokens of a catalog song's first guitar track (path or part of it)."""
    with open_run_catalog(catalog_path) as catalog:
        exact = [f for f in catalog.files_matching(song, limit=50) if f["path"] == song]
        matches = exact or catalog.files_matching(song, limit=50)
        if not matches:
            raise PrimerError(f"no song in {catalog_path} matches {song!r}")
        if len(matches) > 1 and not exact:
            shown = ", ".join(f["path"] for f in matches[:5])
            raise PrimerError(f"{len(matches)} songs match {song!r} ({shown}, ...): be precise")
        chosen = matches[0]
        stream = next((s for s in catalog.streams() if s.file_id == chosen["id"]), None)
        if stream is None:
            raise PrimerError(f"{chosen['path']} has no guitar track with tokens")
        names = catalog.vocabulary.tokens
        riff = _stream_riff([names[i] for i in stream.ids[:tokens]], stream.delta[:tokens],
                            stream.duration[:tokens])
        return Primer("song", riff, chosen["path"],
                      **_catalog_places(stream, 0, min(tokens, len(stream.ids))))


def upload_tracks(data: bytes, name: str) -> tuple[object, list]:
    """The uploaded song and its pitched tracks (guitars first), or a PrimerError."""
    from deeprock.music.midi import load_bytes

    shown = sanitized_name(name)
    if len(data) > UPLOAD_MAX_BYTES:
        raise PrimerError(f"{shown} is {len(data)} bytes, over the {UPLOAD_MAX_BYTES} byte "
                          "limit for a primer")
    if not data.startswith(b"MThd") and b"MThd" not in data[:256]:
        raise PrimerError(f"{shown} is not a MIDI file (no MThd header)")
    song = load_bytes(data, shown)
    if song.status == "failed":
        raise PrimerError(f"{shown} cannot be read as MIDI: {song.error}")
    pitched = [t for t in song.tracks if not t.is_drum and len(t.notes)]
    if not pitched:
        raise PrimerError(f"{shown} has no pitched track (only drums or no notes)")
    return song, pitched


def upload_meter(song, pitched: list) -> tuple[int, int]:
    """The upload's meter where a primer from it starts: its last time signature at or before
    the first note of its pitched tracks (a file's meters start at tick 0: midi._meters)."""
    first = min(int(track.notes["start"][0]) for track in pitched)
    _, numerator, denominator = [meter for meter in song.meters if meter[0] <= first][-1]
    return numerator, denominator


def upload_primer(data: bytes, name: str, tokens: int, track: int | None = None) -> Primer:
    """The opening `tokens` tokens of an uploaded file's guitar track (or pitched track number
    `track`, counted from 0 in file order); the first guitar by default."""
    from deeprock.music.guitar import decide
    from deeprock.music.tokens import song_meters, tokenize

    song, pitched = upload_tracks(data, name)
    messages = []
    if track is not None:
        if not 0 <= track < len(pitched):
            raise PrimerError(f"{song.path} has {len(pitched)} pitched tracks: choose 0 to "
                              f"{len(pitched) - 1}, not {track}")
        chosen = pitched[track]
    else:
        chosen = next((t for t in pitched if decide(song, t).guitar), None)
        if chosen is None:
            chosen = pitched[0]
            messages.append(f"{song.path} has no guitar track: its first pitched track "
                            f"({chosen.name or 'unnamed'}) is used")
    stream = tokenize(song, chosen)
    riff = _stream_riff(stream.tokens[:tokens], stream.delta_twelfths[:tokens],
                        stream.duration_twelfths[:tokens])
    return Primer("upload", riff, song.path, messages,
                  **_bar_places(stream.delta_twelfths, stream.position_twelfths,
                                song_meters(song), 0, len(riff)))


def read_upload(path: str | os.PathLike) -> bytes:
    """A primer file from disk, refusing a large one before reading it."""
    size = Path(path).stat().st_size
    if size > UPLOAD_MAX_BYTES:
        raise PrimerError(f"{path} is {size} bytes, over the {UPLOAD_MAX_BYTES} byte limit")
    return Path(path).read_bytes()
