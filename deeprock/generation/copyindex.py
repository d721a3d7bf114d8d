"""Does a riff compose or quote? The longest run of its tokens found verbatim in training.

    index = CopyIndex(training_streams)     # token id arrays, one per training track
    index.longest_copy(riff_ids)            # 0 when no token of the riff occurs at all

Every n-gram of every stream has a polynomial hash, read in O(1) from prefix sums (mod 2**64,
normalised by the inverse power of its position), so no n-gram table is stored per n. A query
starts from the training positions of the riff's bigrams (found by binary search in the sorted
bigrams of the corpus), grows n by doubling while some training n-gram equals one of the
riff's, then bisects; each step only looks at the positions that matched at the last smaller n
(a copy of n + 1 tokens starts with a copy of n), and every match is checked token by token, so
hash collisions cannot inflate the answer. An n-gram never crosses the end of its stream.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_BASE = 0x9E3779B97F4A7C15  # odd, so invertible mod 2**64
_BASE_INVERSE = pow(_BASE, -1, 2**64)


def _powers(base: int, count: int) -> np.ndarray:
    powers = np.full(count, base, dtype=np.uint64)
    powers[:1] = 1
    return np.cumprod(powers, dtype=np.uint64)  # wraps mod 2**64, as intended


class _Hashed:
    """Token ids with prefix hashes: hash(i, n) of ids[i:i+n] for any i and n in O(1)."""

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        count = len(self.ids)
        self.inverse_powers = _powers(_BASE_INVERSE, count)
        terms = (self.ids.astype(np.uint64) + np.uint64(1)) * _powers(_BASE, count)
        self.prefix = np.concatenate(([np.uint64(0)], np.cumsum(terms, dtype=np.uint64)))

    def hashes(self, starts: np.ndarray, length: int) -> np.ndarray:
        return (self.prefix[starts + length] - self.prefix[starts]) * self.inverse_powers[starts]


def ngram_hashes(ids: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """The hash of ids[start:start + length] for each start: the one CopyIndex compares."""
    return _Hashed(ids).hashes(np.asarray(starts, np.int64), length)


def row_hashes(rows: np.ndarray) -> np.ndarray:
    """The same hash of each row of a 2-D id array (one n-gram a row), without prefix sums."""
    rows = np.asarray(rows, np.int64)
    terms = (rows.astype(np.uint64) + np.uint64(1)) * _powers(_BASE, rows.shape[1])
    return terms.sum(axis=1, dtype=np.uint64)  # wraps mod 2**64, as the prefix sums do


class CopyIndex:
    """Training token streams, indexed for longest-copy queries (build O(tokens), numpy)."""

    def __init__(self, streams: Sequence[np.ndarray]) -> None:
        lengths = np.array([len(stream) for stream in streams], dtype=np.int64)
        ids = (np.concatenate(streams).astype(np.int64, copy=False) if len(streams)
               else np.zeros(0, np.int64))
        if len(ids) and ids.min() < 0:
            raise ValueError("token ids must not be negative")
        self.training = _Hashed(ids)
        self.stream_end = np.repeat(np.cumsum(lengths), lengths)  # end of each token's stream
        self.longest_stream = int(lengths.max(initial=0))
        self.id_limit = int(ids.max(initial=-1)) + 1
        self.token_present = np.bincount(ids, minlength=self.id_limit) > 0
        # every bigram inside a stream, sorted: a query's first step is a binary search, not a
        # pass over the whole corpus (common tokens start copies at a third of all positions)
        inside = np.arange(1, len(ids) + 1) < self.stream_end  # a next token in the stream
        keys = self._bigram_keys(ids[:-1], ids[1:])[inside[:-1]]
        starts = np.flatnonzero(inside[:-1])
        order = np.argsort(keys)
        self.bigram_keys, self.bigram_starts = keys[order], starts[order]

    def __len__(self) -> int:
        return len(self.training.ids)

    def _bigram_keys(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """One integer per pair of ids (int32 while it fits: sorting those is faster)."""
        dtype = np.int32 if self.id_limit ** 2 < 2**31 else np.int64
        return first.astype(dtype) * dtype(self.id_limit) + second.astype(dtype)

    def _bigram_candidates(self, riff_ids: np.ndarray) -> np.ndarray:
        """Training starts of every bigram the riff has."""
        inside = (riff_ids >= 0) & (riff_ids < self.id_limit)
        known = inside[:-1] & inside[1:]
        keys = np.unique(self._bigram_keys(riff_ids[:-1][known], riff_ids[1:][known]))
        low = np.searchsorted(self.bigram_keys, keys, "left")
        high = np.searchsorted(self.bigram_keys, keys, "right")
        counts = high - low
        # the ranges [low, high) laid end to end
        steps = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.bigram_starts[np.repeat(low, counts) + steps]

    def longest_copy(self, ids: np.ndarray) -> int:
        """Length of the longest run of `ids` that occurs inside one training stream."""
        riff = _Hashed(np.asarray(ids, dtype=np.int64))
        known = riff.ids[(riff.ids >= 0) & (riff.ids < self.id_limit)]
        if not self.token_present[known].any():
            return 0
        candidates = self._bigram_candidates(riff.ids)
        if not len(candidates):
            return 1
        found, length = 2, 4
        ceiling = min(len(riff.ids), self.longest_stream)
        missing = ceiling + 1  # smallest length known not to occur
        while length <= ceiling:  # doubling
            hits = self._matches(riff, candidates, length)
            if not len(hits):
                missing = length
                break
            found, candidates, length = length, hits, length * 2
        while missing - found > 1:  # bisection between a length found and one missing
            middle = (found + missing) // 2
            hits = self._matches(riff, candidates, middle)
            if len(hits):
                found, candidates = middle, hits
            else:
                missing = middle
        return found

    def _matches(self, riff: _Hashed, starts: np.ndarray, length: int) -> np.ndarray:
        """Training starts among `starts` whose next `length` tokens equal some riff n-gram."""
        starts = starts[starts + length <= self.stream_end[starts]]
        riff_starts = np.arange(len(riff.ids) - length + 1)
        riff_hashes = riff.hashes(riff_starts, length)
        order = np.argsort(riff_hashes)
        riff_hashes = riff_hashes[order]
        hashes = self.training.hashes(starts, length)
        where = np.minimum(np.searchsorted(riff_hashes, hashes), len(riff_hashes) - 1)
        same_hash = riff_hashes[where] == hashes
        starts, partner = starts[same_hash], riff_starts[order[where[same_hash]]]
        offsets = np.arange(length)
        equal = (self.training.ids[starts[:, None] + offsets]
                 == riff.ids[partner[:, None] + offsets]).all(axis=1)
        return starts[equal]
