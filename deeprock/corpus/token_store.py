"""The guitar token streams as flat arrays in files beside the catalog, per catalog version.

    keys, offsets, ids = guitar_arrays(catalog)   # Catalog.token_arrays, read from disk

Reading a million files' streams out of SQLite steps through a million blobs spread over a
4 GB table (8-25 s); three .npy files load in well under a second. They are named by the
catalog's data version and labels version, so a scan or a label decision is never hidden by
them: the next call computes and writes them again and removes the older ones.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from deeprock.atomic import write_atomic
from deeprock.corpus import labels
from deeprock.corpus.catalog import Catalog

PARTS = ("keys", "offsets", "ids")


def store_path(catalog_path: str) -> Path:
    return Path(catalog_path).with_suffix(".tokens")


def guitar_arrays(catalog: Catalog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Catalog.token_arrays() of the guitar tracks, from the store when it is current."""
    folder = store_path(catalog.path)
    version = _version(catalog)
    files = [folder / f"{version}.{part}.npy" for part in PARTS]
    if all(file.is_file() for file in files):
        try:
            keys, offsets, ids = (np.load(file, allow_pickle=False) for file in files)
            return keys, offsets, ids
        except (OSError, ValueError):
            pass  # a damaged store is computed again, as a missing one
    arrays = catalog.token_arrays()
    if _version(catalog) != version:  # a scan wrote while we read: these are of neither
        return arrays
    for file, array in zip(files, arrays, strict=True):
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        write_atomic(file, buffer.getvalue())
    for old in folder.glob("*.npy"):
        if old not in files:
            old.unlink(missing_ok=True)
    return arrays


def _version(catalog: Catalog) -> str:
    return f"{catalog.data_version()}-{labels.version(catalog)}"
