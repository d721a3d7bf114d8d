"""What the health page computes from the whole catalog, kept in files beside it per version.

    keys, offsets, ids = guitar_arrays(catalog)        # Catalog.token_arrays, read from disk
    stored_json(catalog, "overview", compute)          # a JSON document, computed once
    stored_arrays(catalog, "candidates", parts, compute)   # named .npy arrays, never pickled

Reading a million files' streams out of SQLite steps through a million blobs spread over a
4 GB table (8-25 s), and the overview's queries take seconds more; files load in well under a
second. They are named by the catalog's data version and, for what a label can change, the
labels version too, so a scan or a label decision is never hidden by them: the next call
computes and writes them again and removes the files of older versions. A damaged file is
computed again, as a missing one; deleting the folder is always safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from deeprock.atomic import write_atomic, writing
from deeprock.corpus import labels
from deeprock.corpus.catalog import Catalog
from deeprock.corpus.windows import WindowStats

Arrays = dict[str, np.ndarray]
Value = TypeVar("Value")
TOKEN_PARTS = ("keys", "offsets", "ids")
WINDOW_LENGTHS_KEPT = 4  # sequence_lengths whose window counts stay on disk
DAMAGED = (OSError, ValueError, EOFError)  # what np.load and json.loads raise on a bad file


def store_path(catalog_path: str) -> Path:
    return Path(catalog_path).with_suffix(".tokens")


def guitar_arrays(catalog: Catalog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Catalog.token_arrays() of the guitar tracks (ids in the smallest dtype that holds the
    vocabulary), memory-mapped from the store when it is current."""
    arrays = stored_arrays(catalog, "tokens", TOKEN_PARTS, lambda: dict(
        zip(TOKEN_PARTS, catalog.token_arrays(), strict=True)))
    return arrays["keys"], arrays["offsets"], arrays["ids"]


def token_counts(catalog: Catalog) -> np.ndarray:
    """How often each vocabulary id occurs in the guitar streams (the Vocabulary tab's): a
    bincount over every id, 130M at a million files, done once per version."""
    def count() -> Arrays:
        ids = guitar_arrays(catalog)[2]
        counts = np.zeros(len(catalog.vocabulary), np.int64)
        chunk = 1 << 24  # bincount copies its input to int64: 16M ids at a time, not 130M
        for first in range(0, len(ids), chunk):
            counts += np.bincount(ids[first : first + chunk], minlength=len(counts))
        return {"counts": counts}

    return stored_arrays(catalog, "vocabulary", ("counts",), count)["counts"]


def window_counts(catalog: Catalog, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """WindowStats.counted() of every guitar track at seq_len (the distinct counts in the
    smallest dtype: uint8 up to 255): the pass over 130M ids took 1.5 s of a first render.
    This seq_len's and the newest written others', WINDOW_LENGTHS_KEPT in all, stay (36 MB
    each at a million files)."""
    def count() -> Arrays:
        distinct, histogram = WindowStats.from_arrays(*guitar_arrays(catalog), seq_len).counted()
        return {"distinct": distinct.astype(np.min_scalar_type(seq_len)),
                "histogram": histogram}

    arrays = stored_arrays(catalog, f"windows{seq_len}", ("distinct", "histogram"), count)
    others = sorted((file for file in store_path(catalog.path).glob("*.windows*.distinct.npy")
                     if file.name.split(".")[1] != f"windows{seq_len}"),
                    key=lambda file: file.stat().st_mtime_ns, reverse=True)
    for old in others[WINDOW_LENGTHS_KEPT - 1 :]:
        for part in ("distinct", "histogram"):
            old.with_name(old.name.replace(".distinct.", f".{part}.")).unlink(missing_ok=True)
    return arrays["distinct"], arrays["histogram"]


def stored_arrays(catalog: Catalog, name: str, parts: Sequence[str],
                  compute: Callable[[], Arrays], labelled: bool = True) -> Arrays:
    """compute()'s arrays (one per part), from `VERSION.name.part.npy` files when current;
    memory-mapped read-only, so a large one costs no copy. `labelled`: labels change it."""
    def read(files: list[Path]) -> Arrays:
        return {part: np.load(file, mmap_mode="r", allow_pickle=False)
                for part, file in zip(parts, files, strict=True)}

    def write(arrays: Arrays, files: list[Path]) -> None:
        for part, file in zip(parts, files, strict=True):
            with writing(file) as handle:  # straight to the file: no copy of 128 MB of ids
                np.save(handle, arrays[part], allow_pickle=False)

    return _stored(catalog, [f"{name}.{part}.npy" for part in parts], labelled, read,
                   compute, write)


def stored_json(catalog: Catalog, name: str, compute: Callable[[], Value],
                labelled: bool = True) -> Any:
    """compute()'s JSON-able value, from `VERSION.name.json` when current; always as JSON
    reads it back (tuples as lists), computed or not."""
    def through_json() -> Any:
        return json.loads(json.dumps(compute(), allow_nan=False))

    return _stored(catalog, [f"{name}.json"], labelled,
                   lambda files: json.loads(files[0].read_bytes()), through_json,
                   lambda value, files: write_atomic(files[0], json.dumps(value)))


def _stored(catalog: Catalog, names: list[str], labelled: bool,
            read: Callable[[list[Path]], Value], compute: Callable[[], Value],
            write: Callable[[Value, list[Path]], None]) -> Value:
    """The one way every stored value is found, computed, written and cleaned up."""
    folder = store_path(catalog.path)
    version = _version(catalog, labelled)
    files = [folder / f"{version}.{name}" for name in names]
    if all(file.is_file() for file in files):
        try:
            return read(files)
        except DAMAGED:
            pass  # a damaged file is computed again, as a missing one
    value = compute()
    if _version(catalog, labelled) != version:  # a scan wrote while we read: of neither
        return value
    write(value, files)
    _remove_older(folder, catalog)
    return value


def _version(catalog: Catalog, labelled: bool) -> str:
    data = catalog.data_version()
    return f"{data}-{labels.version(catalog)}" if labelled else data


def _remove_older(folder: Path, catalog: Catalog) -> None:
    """Every file of another version goes (a temporary being written starts with a dot)."""
    current = {_version(catalog, False), _version(catalog, True)}
    for file in folder.iterdir():
        if not file.name.startswith(".") and file.name.split(".", 1)[0] not in current:
            file.unlink(missing_ok=True)
