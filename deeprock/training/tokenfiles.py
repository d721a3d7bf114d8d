"""A run's training data out of core: both sides' token arrays written once into the run
folder, then memory-mapped, so a corpus larger than RAM trains from the page cache.

    data = write_data(catalog, settings, tracks, run / runs.TOKENS, key)  # track by track
    data = open_data(run / runs.TOKENS, settings, key, catalog.file_keys())  # or StaleTokens

The arrays are those of split.build_training_data (the in-memory path, equal array for
array): per side catalog_ids, ids, delta, duration, position (int32, one per token), offsets
(int64, tracks + 1), keys (int64, 3 per track) and starts (int64, the kept windows), each a raw
little-endian file named `train.ids.i4`. Each is written through a temporary and renamed; the
manifest tokens.json comes last and names the settings key, the vocabulary and every file's
length: no manifest, another key, or a file of the wrong size means the set is rewritten.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from pathlib import Path

import numpy as np

from deeprock import atomic
from deeprock.corpus.catalog import Catalog, Stream
from deeprock.corpus.windows import TrackKey
from deeprock.training import runs, split
from deeprock.training.split import DataSettings, Side, TrainingData
from deeprock.training.vocab import RunVocabulary

FORMAT = 1
SIDES = ("train", "validation")
PER_TOKEN = ("catalog_ids", "delta", "duration", "position")  # written as the tracks come
TYPES = {"catalog_ids": "<i4", "ids": "<i4", "delta": "<i4", "duration": "<i4",
         "position": "<i4", "offsets": "<i8", "keys": "<i8", "starts": "<i8"}
CHUNK_TOKENS = 1 << 20  # whole tracks are encoded this many tokens at a time: RAM per chunk


class StaleTokens(Exception):
    """The run's token files cannot be used as they are (the message says why): rewrite them."""


def array_path(folder: Path, side: str, name: str) -> Path:
    return folder / f"{side}.{name}.{TYPES[name][1:]}"


class _SideWriter:
    """One side's files, appended a chunk of whole tracks at a time (windows never cross a
    track, so a chunk's window starts are the whole side's, shifted)."""

    def __init__(self, folder: Path, side: str, settings: DataSettings,
                 stack: contextlib.ExitStack, counts: np.ndarray | None) -> None:
        self.folder, self.side, self.settings, self.counts = folder, side, settings, counts
        self.handles = {name: stack.enter_context(atomic.writing(array_path(folder, side, name)))
                        for name in (*PER_TOKEN, "starts")}
        self.chunk: list[Stream] = []
        self.chunk_tokens = self.tokens = 0
        self.keys: list[TrackKey] = []
        self.lengths: list[int] = []

    def add(self, stream: Stream) -> None:
        self.chunk.append(stream)
        self.chunk_tokens += len(stream.ids)
        if self.chunk_tokens >= CHUNK_TOKENS:
            self.flush()

    def flush(self) -> None:
        if not self.chunk:
            return
        # catalog ids for now: the run vocabulary is known only once every track is counted
        side = split.encode(self.chunk, np.zeros(0, np.int32))
        for name in PER_TOKEN:
            self.handles[name].write(getattr(side, name).astype(TYPES[name]).tobytes())
        starts = split.window_starts(side, self.settings.seq_len, self.settings.unique_factor)
        self.handles["starts"].write((starts + self.tokens).astype(TYPES["starts"]).tobytes())
        if self.counts is not None:
            self.counts += np.bincount(side.catalog_ids, minlength=len(self.counts))
        self.keys += side.keys
        self.lengths += np.diff(side.offsets).tolist()
        self.tokens += side.tokens
        self.chunk, self.chunk_tokens = [], 0

    def finish(self, lookup: np.ndarray) -> dict[str, int]:
        """ids (catalog ids through the run vocabulary), offsets, keys; each file's length."""
        self.flush()
        for handle in self.handles.values():
            handle.flush()
        catalog_ids = _mapped(Path(self.handles["catalog_ids"].name), "<i4", self.tokens)
        with atomic.writing(array_path(self.folder, self.side, "ids")) as handle:
            for begin in range(0, self.tokens, CHUNK_TOKENS):
                chunk = catalog_ids[begin:begin + CHUNK_TOKENS]
                handle.write((lookup[chunk] if len(lookup) else chunk).astype("<i4").tobytes())
        offsets = np.concatenate(([0], np.cumsum(self.lengths, dtype=np.int64)))
        keys = np.array(self.keys, dtype=np.int64).reshape(-1)
        for name, values in (("offsets", offsets), ("keys", keys)):
            atomic.write_atomic(array_path(self.folder, self.side, name),
                                values.astype(TYPES[name]).tobytes())
        starts = Path(self.handles["starts"].name).stat().st_size // 8
        return {**{name: self.tokens for name in (*PER_TOKEN, "ids")}, "offsets": len(offsets),
                "keys": len(keys), "starts": starts}


def write_data(catalog: Catalog, settings: DataSettings, tracks: Collection[TrackKey] | None,
               folder: Path, key: dict, vocabulary: RunVocabulary | None = None) -> TrainingData:
    """Plan the split from the tracks' lengths, then stream the tracks once more into both
    sides' files; RAM holds one chunk, the track keys and the vocabulary counts. vocabulary:
    a fine-tuned run's (its parent's), otherwise counted on the training side."""
    plan = split.plan_sides(catalog, settings, tracks, split.read_streams(catalog, tracks))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / runs.TOKENS_MANIFEST).unlink(missing_ok=True)  # no manifest: no usable set
    for leftover in folder.glob(".*.tmp"):  # a writer killed outright leaves its temporaries
        leftover.unlink()
    side_of = {k: "train" for k in plan.train} | {k: "validation" for k in plan.validation}
    counts = np.zeros(len(catalog.vocabulary), np.int64)
    with contextlib.ExitStack() as stack:
        writers = {side: _SideWriter(folder, side, settings, stack,
                                     counts if side == "train" else None) for side in SIDES}
        for stream in split.read_streams(catalog, tracks):
            side = side_of.get((stream.file_id, stream.idx, stream.channel))
            if side:
                writers[side].add(stream)
        for writer in writers.values():
            writer.flush()
        if vocabulary is None:
            vocabulary = RunVocabulary.from_counts(catalog.vocabulary.tokens, counts,
                                                   settings.min_count)
        lookup = vocabulary.lookup(catalog.vocabulary.tokens)
        lengths = {side: writer.finish(lookup) for side, writer in writers.items()}
    runs.write_json(folder / runs.TOKENS_MANIFEST, {
        "format": FORMAT, "key": key, "vocabulary": vocabulary.to_dict(),
        "arrays": {f"{side}.{name}": length for side in SIDES
                   for name, length in lengths[side].items()}})
    return open_data(folder, settings, key, plan.paths)


def open_data(folder: Path, settings: DataSettings, key: dict,
              paths: dict[int, tuple[str, str]]) -> TrainingData:
    """The written set, memory-mapped; StaleTokens says why it cannot be used."""
    manifest_path = folder / runs.TOKENS_MANIFEST
    if not manifest_path.exists():
        raise StaleTokens(f"no token files in {folder} yet")
    try:
        manifest = atomic.read_json(manifest_path, "token manifest")
        vocabulary = RunVocabulary.from_dict(manifest["vocabulary"])
        lengths = manifest["arrays"]
    except (ValueError, KeyError, TypeError) as error:
        raise StaleTokens(f"token manifest {manifest_path} is unreadable ({error})") from None
    if manifest.get("format") != FORMAT or manifest.get("key") != key:
        raise StaleTokens(f"the token files in {folder} were written for other settings")
    arrays = {(side, name): _mapped(array_path(folder, side, name), dtype,
                                    lengths.get(f"{side}.{name}", -1))
              for side in SIDES for name, dtype in TYPES.items()}
    sides = [_side(arrays, side, paths, folder) for side in SIDES]
    data = TrainingData(vocabulary, *sides, arrays["train", "starts"],
                        arrays["validation", "starts"], settings, paths)
    split.check_enough(data)
    return data


def _mapped(path: Path, dtype: str, length: int) -> np.ndarray:
    """A read-only map of a file that must hold exactly `length` values."""
    expected = length * np.dtype(dtype).itemsize
    try:
        size = path.stat().st_size
    except OSError as error:
        raise StaleTokens(f"token file {path} is missing ({error.strerror})") from None
    if length < 0 or size != expected:
        raise StaleTokens(f"token file {path} is truncated or corrupt: {size} bytes where its "
                          f"manifest says {max(expected, 0)}")
    return np.memmap(path, dtype, "r", shape=(length,)) if length else np.zeros(0, dtype)


def _side(arrays: dict, side: str, paths: dict, folder: Path) -> Side:
    keys = [tuple(key) for key in arrays[side, "keys"].reshape(-1, 3).tolist()]
    if any(file_id not in paths for file_id, _, _ in keys):
        raise StaleTokens(f"the catalog was rescanned since {folder} was written (its file ids "
                          "changed)")
    return Side(keys, [file_id for file_id, _, _ in keys], arrays[side, "catalog_ids"],
                arrays[side, "ids"], arrays[side, "delta"], arrays[side, "duration"],
                arrays[side, "position"], np.asarray(arrays[side, "offsets"]))


def chunked_bincount(values: np.ndarray, classes: int) -> np.ndarray:
    """np.bincount a chunk at a time: on a mapped array it never makes a whole int64 copy."""
    counts = np.zeros(classes, np.int64)
    for begin in range(0, len(values), CHUNK_TOKENS):
        counts += np.bincount(values[begin:begin + CHUNK_TOKENS], minlength=classes)
    return counts


def id_moments(ids: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the ids (the seed network's input scaling), in chunks."""
    counts = chunked_bincount(ids, int(ids.max(initial=0)) + 1)
    values = np.arange(len(counts), dtype=np.float64)
    mean = float(counts @ values / max(counts.sum(), 1))
    return mean, float(np.sqrt(counts @ (values - mean) ** 2 / max(counts.sum(), 1)))
