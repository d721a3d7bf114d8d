"""Shingles of a file: what the version search compares, computed once and kept in the catalog.

    found = file_shingles(catalog, [file_id, ...])   # {file_id: sorted unique uint32 shingles}

Shingles are n-grams of a file's guitar token streams (the undecided ones when it has none long
enough): each token as its chord shape, the interval of its lowest pitch from the previous
token's and its onset delta, so a transposed or re-voiced copy still shares them.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from deeprock.corpus.catalog import Catalog
from deeprock.music.tokens import token_pitches

# Measured on the shared corpus: distinct songs in one folder share at most 0.13 of their
# 4-grams, 0.09 of their 6-grams; 8-grams confirm fewer numbered versions (55 pairs, not 59)
NGRAM = 6
MAX_DELTA = 255  # twelfths (5 bars of 4/4); longer rests all count as this long


def file_shingles(catalog: Catalog, file_ids: Collection[int]) -> dict[int, np.ndarray]:
    """Sorted unique uint32 shingles of each file: its guitar streams, or, when it has none long
    enough, its other stored streams (melody, undecided). Files without any: an empty array."""
    shape, lowest = token_tables(catalog.vocabulary.tokens)
    parts: dict[int, list[np.ndarray]] = {file_id: [] for file_id in file_ids}
    for guitar_only in (True, False):
        wanted = [file_id for file_id, found in parts.items() if not found]
        for stream in catalog.streams(guitar_only=guitar_only, file_ids=wanted):
            if len(stream.ids) >= NGRAM:
                parts[stream.file_id].append(
                    stream_shingles(stream.ids, stream.delta, shape, lowest))
    return {file_id: np.unique(np.concatenate(found)) if found else np.zeros(0, np.uint32)
            for file_id, found in parts.items()}


def token_tables(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per token id: its chord shape (intervals above the lowest note, as an id), lowest pitch."""
    shapes: dict[tuple[int, ...], int] = {}
    shape, lowest = np.zeros(len(tokens), np.int64), np.zeros(len(tokens), np.int64)
    for i, token in enumerate(tokens):
        pitches = token_pitches(token)
        lowest[i] = pitches[0]
        shape[i] = shapes.setdefault(tuple(p - pitches[0] for p in pitches), len(shapes))
    return shape, lowest


def stream_shingles(ids: np.ndarray, delta: np.ndarray, shape: np.ndarray,
                    lowest: np.ndarray) -> np.ndarray:
    """n-grams of (chord shape, interval from the previous lowest pitch, onset delta).

    An n-gram that only repeats one sonority is left out: it holds a rhythm and nothing else,
    and one strummed chord in one rhythm made distinct songs look alike.
    """
    low, shapes = lowest[ids], shape[ids]
    interval = np.zeros(len(ids), np.int64)
    interval[1:] = low[1:] - low[:-1]
    element = (shapes << 16) | ((interval + 128) << 8) | np.minimum(delta, MAX_DELTA)
    element = element.astype(np.uint64)
    count = len(element) - NGRAM + 1
    gram = np.zeros(count, np.uint64)
    for k in range(NGRAM):  # a loop over the n-gram's positions, vectorized over the stream
        gram = gram * np.uint64(0x100000001B3) ^ element[k : k + count]
    moves = np.zeros(len(ids) + 1, np.int64)  # moves[i]: sonority changes before token i
    moves[2:] = np.cumsum((interval[1:] != 0) | (shapes[1:] != shapes[:-1]))
    static = moves[NGRAM : NGRAM + count] == moves[1 : 1 + count]
    return (mix64(gram[~static]) >> np.uint64(32)).astype(np.uint32)


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, so the kept bits depend on every bit of the input."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def similar(first: np.ndarray, second: np.ndarray, jaccard: float, min_shared: int) -> bool:
    """At least min_shared shingles shared and at least `jaccard` of the union."""
    shared = len(np.intersect1d(first, second, assume_unique=True))
    return shared >= min_shared and shared >= jaccard * (len(first) + len(second) - shared)
