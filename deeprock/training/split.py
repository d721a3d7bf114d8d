"""Training data from the catalog: split by song, the run vocabulary, windows. No Keras here.

    data = build_training_data(catalog, DataSettings(seq_len=64), selection=None)
    data.train.ids, data.train_starts     # int32 tokens, window starts into them

The split comes before anything else: files are split, not windows, and every duplicate group
(exact, content, transposed, version) stays whole on one side, so no song is both learned and
used to judge what was learned. Tokens come from the catalog's stored streams; MIDI is never
parsed again.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from deeprock.corpus.artists import file_artists, files_of
from deeprock.corpus.catalog import Catalog, Stream
from deeprock.corpus.groups import components
from deeprock.corpus.windows import TrackKey, WindowStats
from deeprock.training.vocab import RunVocabulary, position_classes, rhythm_classes


class DataError(ValueError):
    """The data cannot make a training set (too small, empty, gone); the message says why."""


@dataclass
class DataSettings:
    seq_len: int = 64
    unique_factor: int = 10
    validation_share: float = 0.1
    split_seed: int = 0
    # "song" (duplicate groups whole), "artist" (every file of an artist on one side) or
    # "artist-songs" (songs held out within each artist, so each artist is on both sides)
    split_by: str = "song"
    min_count: int = 2
    data_percent: float = 100.0
    stride: int = 1  # training windows start every `stride` kept starts (random phase per epoch)
    artists: list[str] = field(default_factory=list)  # train on these artists only (none: all)


@dataclass
class Side:
    """One side of the split: its tracks' tokens concatenated, rhythm and bar position as
    classes."""

    keys: list[TrackKey]
    files: list[int]
    catalog_ids: np.ndarray
    ids: np.ndarray
    delta: np.ndarray
    duration: np.ndarray
    position: np.ndarray
    offsets: np.ndarray = field(repr=False)

    @property
    def tokens(self) -> int:
        return len(self.ids)


@dataclass
class TrainingData:
    vocabulary: RunVocabulary
    train: Side
    validation: Side
    train_starts: np.ndarray
    validation_starts: np.ndarray
    settings: DataSettings
    paths: dict[int, tuple[str, str]] = field(repr=False)  # file id → (root, path)

    def summary(self) -> dict:
        return {"train_files": len(set(self.train.files)),
                "validation_files": len(set(self.validation.files)),
                "train_tracks": len(self.train.keys),
                "validation_tracks": len(self.validation.keys),
                "train_tokens": self.train.tokens, "validation_tokens": self.validation.tokens,
                "train_windows": len(self.train_starts),
                "validation_windows": len(self.validation_starts),
                "vocabulary": len(self.vocabulary)}


def build_training_data(catalog: Catalog, settings: DataSettings,
                        tracks: Collection[TrackKey] | None = None,
                        vocabulary: RunVocabulary | None = None) -> TrainingData:
    """Streams of the selection's tracks (or every guitar track), split, encoded, windowed, all
    in memory (a run trains from tokenfiles.py's memory-mapped copy of the same arrays).
    vocabulary: a fine-tuned run's, its parent's (otherwise counted on the training side)."""
    streams = list(read_streams(catalog, tracks))
    plan = plan_sides(catalog, settings, tracks, streams)
    by_key = {(s.file_id, s.idx, s.channel): s for s in streams}
    train = [by_key[key] for key in plan.train]
    held_out = [by_key[key] for key in plan.validation]
    del streams, by_key
    if vocabulary is None:
        counts = np.bincount(np.concatenate([s.ids for s in train]),
                             minlength=len(catalog.vocabulary))
        vocabulary = RunVocabulary.from_counts(catalog.vocabulary.tokens, counts,
                                               settings.min_count)
    lookup = vocabulary.lookup(catalog.vocabulary.tokens)
    train_side, validation_side = encode(train, lookup), encode(held_out, lookup)
    del train, held_out  # the sides hold the tokens now: memory is theirs alone
    data = TrainingData(vocabulary, train_side, validation_side,
                        window_starts(train_side, settings.seq_len, settings.unique_factor),
                        window_starts(validation_side, settings.seq_len, settings.unique_factor),
                        settings, plan.paths)
    check_enough(data)
    return data


@dataclass
class Plan:
    """Which tracks each side holds, in catalog order: decided from the tracks' lengths alone,
    so the tokens can then be written side by side without ever being held whole."""

    train: list[TrackKey]
    validation: list[TrackKey]
    paths: dict[int, tuple[str, str]] = field(repr=False)


def plan_sides(catalog: Catalog, settings: DataSettings, tracks: Collection[TrackKey] | None,
               streams: Iterable[Stream]) -> Plan:
    """The split of `streams` (read_streams's, a list or streamed): the artists filter, the
    split by song or artist, data_percent."""
    chosen = None
    if settings.artists:
        try:
            chosen = files_of(catalog, settings.artists)
        except ValueError as error:
            raise DataError(str(error)) from error
    lengths, stale, every_file = {}, 0, set()
    for stream in streams:
        every_file.add(stream.file_id)
        if chosen is None or stream.file_id in chosen:
            lengths[(stream.file_id, stream.idx, stream.channel)] = len(stream.ids)
            stale += stream.position is None
    if not lengths:
        raise DataError(f"catalog {catalog.path} has no guitar track with tokens"
                        + (" in this selection" if tracks is not None else "")
                        + (f" by {', '.join(settings.artists)}" if settings.artists else "")
                        + ": scan a folder with guitar parts, or accept inferred guitars")
    check_fresh(stale, len(lengths))
    paths = catalog.file_keys()
    split = {key[0] for key in lengths}
    if settings.split_by == "artist-songs":  # the same songs held out with or without --artists
        split = every_file
    validation_files = split_files(catalog, split, settings, paths)
    train = [key for key in lengths if key[0] not in validation_files]
    held_out = [key for key in lengths if key[0] in validation_files]
    return Plan(_first_percent(train, lengths, settings.data_percent), held_out, paths)


def read_streams(catalog: Catalog, tracks: Collection[TrackKey] | None) -> Iterator[Stream]:
    """The chosen tracks' streams, one at a time (a selection is the authority, whatever the
    guitar flag)."""
    wanted = None if tracks is None else set(tracks)
    return (s for s in catalog.streams(guitar_only=tracks is None)
            if wanted is None or (s.file_id, s.idx, s.channel) in wanted)


def split_files(catalog: Catalog, file_ids: set[int], settings: DataSettings,
                paths: dict[int, tuple[str, str]]) -> set[int]:
    """The validation side's file ids: whole units (duplicate groups, or artists) drawn in a
    seeded order until they hold the validation share of the files; by "artist-songs", each
    artist's songs drawn apart, the last song of its order always left to training."""
    rng = np.random.default_rng(settings.split_seed)
    units = _units(catalog, file_ids, "song" if settings.split_by == "artist-songs"
                   else settings.split_by, paths)
    if settings.split_by == "artist-songs":
        artists = file_artists(catalog)
        by_artist: dict[str, list[set[int]]] = {}
        for unit in units:  # a song filed under two artists goes with its first file's
            by_artist.setdefault(artists[min(unit)], []).append(unit)
        validation = set()
        for artist in sorted(by_artist):
            songs = by_artist[artist]
            share = settings.validation_share * sum(len(song) for song in songs)
            validation |= _draw(songs, rng.permutation(len(songs))[:-1], share)
    else:
        validation = _draw(units, rng.permutation(len(units)),
                           settings.validation_share * len(file_ids))
    if settings.validation_share > 0 and len(validation) == len(file_ids):
        raise DataError(f"{len(file_ids)} files in {len(units)} song group(s): too few to hold "
                        "any out for validation; add songs or lower the validation share")
    return validation


def _draw(units: list[set[int]], order: np.ndarray, wanted: float) -> set[int]:
    """Units in order until they hold `wanted` files, skipping one that overshoots by half."""
    validation: set[int] = set()
    for position in order:
        if len(validation) >= wanted:
            break
        if len(validation) + len(units[position]) <= max(wanted * 1.5, 1) or not validation:
            validation |= units[position]
    return validation


def _units(catalog: Catalog, file_ids: set[int], split_by: str,
           paths: dict[int, tuple[str, str]]) -> list[set[int]]:
    """Files that must stay on one side together: duplicate groups joined transitively."""
    from deeprock.corpus.dedup import find_duplicates

    if split_by == "artist":
        by_artist: dict[str, list[int]] = {}
        for file_id, artist in file_artists(catalog).items():
            if file_id in file_ids:
                by_artist.setdefault(artist, []).append(file_id)
        joined = list(by_artist.values())
    elif split_by == "song":
        by_path: dict[str, list[int]] = {}
        for file_id in file_ids:
            by_path.setdefault(paths[file_id][1], []).append(file_id)
        joined = [[f for path in group.files for f in by_path.get(path, [])]
                  for group in find_duplicates(catalog)]
    else:
        raise DataError(f"split_by must be 'song', 'artist' or 'artist-songs', not {split_by!r}")
    links = [(members[0], other) for members in joined for other in members[1:]]
    return [set(unit) for unit in components(sorted(file_ids), links)]


def _first_percent(keys: list[TrackKey], lengths: dict[TrackKey, int],
                   percent: float) -> list[TrackKey]:
    """The post's data_percent: the first tracks holding that share of the training tokens."""
    if not 0 < percent <= 100:
        raise DataError(f"data_percent must be in (0, 100], not {percent}")
    budget = sum(lengths[key] for key in keys) * percent / 100
    chosen, used = [], 0
    for key in keys:
        if used >= budget:
            break
        chosen.append(key)
        used += lengths[key]
    return chosen


def encode(streams: list[Stream], lookup: np.ndarray) -> Side:
    """Concatenate streams (catalog ids → run ids, rhythm and position → classes) with track
    offsets."""
    check_fresh(sum(s.position is None for s in streams), len(streams))

    def joined(name: str) -> np.ndarray:
        parts = [getattr(s, name) for s in streams]
        return np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)

    catalog_ids = joined("ids")
    offsets = np.concatenate(([0], np.cumsum([len(s.ids) for s in streams], dtype=np.int64)))
    return Side([(s.file_id, s.idx, s.channel) for s in streams], [s.file_id for s in streams],
                catalog_ids, lookup[catalog_ids] if len(lookup) else catalog_ids,
                rhythm_classes(joined("delta")), rhythm_classes(joined("duration")),
                position_classes(joined("position")), offsets)


def check_fresh(stale: int, total: int) -> None:
    if stale:
        raise DataError(f"{stale} of {total} tracks were scanned before the catalog "
                        "held bar positions (it was upgraded): scan their folder again")


def window_starts(side: Side, seq_len: int, unique_factor: int) -> np.ndarray:
    """Flat start of every window X = ids[i:i+seq_len] (target i+seq_len inside its track) that
    holds more than unique_factor distinct tokens, counted on catalog ids as the health page."""
    if seq_len < 2:
        raise DataError(f"seq_len must be at least 2, not {seq_len}")
    stats = WindowStats(side.catalog_ids, side.offsets, seq_len, side.keys)
    kept = stats.distinct > unique_factor
    parts = [side.offsets[t] + np.flatnonzero(kept[a:b])  # track by track: no temporaries
             for t, (a, b) in enumerate(itertools.pairwise(stats.window_offsets))]  # per window
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def check_enough(data: TrainingData) -> None:
    seq_len = data.settings.seq_len
    longest = int(np.diff(data.train.offsets).max(initial=0))
    if longest <= seq_len:
        raise DataError(f"seq_len {seq_len} is longer than every training track (longest: "
                        f"{longest} tokens): choose a seq_len below {longest}")
    if not len(data.train_starts):
        raise DataError(f"no training window has more than {data.settings.unique_factor} "
                        f"distinct tokens: lower unique_factor or seq_len")
    if data.settings.validation_share > 0 and not len(data.validation_starts):
        raise DataError(f"the {len(set(data.validation.files))} validation file(s) give no "
                        f"window of {seq_len} tokens with more than "
                        f"{data.settings.unique_factor} distinct: raise the validation share, "
                        "or lower seq_len or unique_factor")
