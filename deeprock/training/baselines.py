"""The bars a network must clear: unigram and interpolated-trigram perplexity on the same targets.

    model = NgramBaseline.fit(train.ids, train.offsets, vocabulary_size)
    model.perplexity(validation.ids, validation.offsets, targets)

Trigram (docs/architecture.md): 0.4 · trigram + 0.4 · bigram (maximum likelihood, zero for an unseen
context) + 0.2 · add-one unigram. Add-k smoothing alone is a straw man (92 against 32.8 on the
shared corpus split by artist). Counts are sorted int64 keys searched with numpy: a million
training tokens take well under a second. Contexts never cross tracks.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

WEIGHTS = (0.4, 0.4, 0.2)  # trigram, bigram, unigram
COUNTS = ("bigram", "bigram_context", "trigram", "trigram_context")


@dataclass
class _Counts:
    keys: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray) -> _Counts:
        unique, counts = np.unique(keys, return_counts=True)
        return cls(unique, counts)

    def merged(self, other: _Counts) -> _Counts:
        unique, where = np.unique(np.concatenate([self.keys, other.keys]), return_inverse=True)
        counts = np.bincount(where, np.concatenate([self.counts, other.counts]), len(unique))
        return _Counts(unique, counts.astype(np.int64))

    def get(self, keys: np.ndarray) -> np.ndarray:
        where = np.clip(np.searchsorted(self.keys, keys), 0, max(len(self.keys) - 1, 0))
        found = (self.keys[where] == keys) if len(self.keys) else np.zeros(len(keys), bool)
        return np.where(found, self.counts[where] if len(self.keys) else 0, 0)


@dataclass
class NgramBaseline:
    vocabulary_size: int
    unigram: np.ndarray
    bigram: _Counts
    bigram_context: _Counts
    trigram: _Counts
    trigram_context: _Counts

    @classmethod
    def fit(cls, ids: np.ndarray, offsets: np.ndarray, vocabulary_size: int,
            chunk_tokens: int = 1 << 22) -> NgramBaseline:
        """Counted a chunk of whole tracks at a time, so memory follows the distinct n-grams,
        not the tokens (a run's ids are memory-mapped)."""
        parts = (cls._fit_chunk(np.asarray(ids[offsets[a]:offsets[b]]),
                                offsets[a:b + 1] - offsets[a], vocabulary_size)
                 for a, b in _track_chunks(offsets, chunk_tokens))
        fitted = next(parts, None) or cls._fit_chunk(np.zeros(0, np.int32), np.zeros(1, np.int64),
                                                     vocabulary_size)
        for part in parts:
            fitted = NgramBaseline(vocabulary_size, fitted.unigram + part.unigram,
                                   *(getattr(fitted, name).merged(getattr(part, name))
                                     for name in COUNTS))
        return fitted

    @classmethod
    def _fit_chunk(cls, ids: np.ndarray, offsets: np.ndarray,
                   vocabulary_size: int) -> NgramBaseline:
        v = np.int64(vocabulary_size)
        ids = ids.astype(np.int64)
        first, second = _positions(offsets, 1), _positions(offsets, 2)
        return cls(vocabulary_size, np.bincount(ids, minlength=vocabulary_size),
                   _Counts.of(ids[first - 1] * v + ids[first]), _Counts.of(ids[first - 1]),
                   _Counts.of((ids[second - 2] * v + ids[second - 1]) * v + ids[second]),
                   _Counts.of(ids[second - 2] * v + ids[second - 1]))

    def probabilities(self, ids: np.ndarray, offsets: np.ndarray,
                      targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(unigram, interpolated trigram) probability of ids[t] for each flat target t."""
        v = np.int64(self.vocabulary_size)
        start = offsets[np.searchsorted(offsets, targets, side="right") - 1]
        word = ids[targets].astype(np.int64)  # gathered: the ids may be memory-mapped
        unigram = (self.unigram[word] + 1) / (self.unigram.sum() + self.vocabulary_size)
        prev1 = np.where(targets - 1 >= start, ids[np.maximum(targets - 1, 0)], -1)
        prev2 = np.where(targets - 2 >= start, ids[np.maximum(targets - 2, 0)], -1)
        prev1, prev2 = prev1.astype(np.int64), prev2.astype(np.int64)
        bigram = _ratio(self.bigram.get(prev1 * v + word), self.bigram_context.get(prev1),
                        prev1 >= 0)
        context = prev2 * v + prev1
        trigram = _ratio(self.trigram.get(context * v + word), self.trigram_context.get(context),
                         prev2 >= 0)
        mixed = WEIGHTS[0] * trigram + WEIGHTS[1] * bigram + WEIGHTS[2] * unigram
        return unigram, mixed

    def perplexities(self, ids: np.ndarray, offsets: np.ndarray, targets: np.ndarray,
                     chunk: int = 1 << 20) -> dict:
        """Scored `chunk` targets at a time: a dozen float64 temporaries each, not per target."""
        log_sums = np.zeros(2)
        for begin in range(0, len(targets), chunk):
            probabilities = self.probabilities(ids, offsets, targets[begin:begin + chunk])
            log_sums += [np.log(p).sum() for p in probabilities]
        unigram, trigram = (_perplexity(total, len(targets)) for total in log_sums)
        return {"unigram_perplexity": unigram, "trigram_perplexity": trigram,
                "targets": len(targets)}


def _track_chunks(offsets: np.ndarray, chunk_tokens: int) -> list[tuple[int, int]]:
    """(first track, end track) runs of whole tracks holding about chunk_tokens tokens."""
    if not offsets[-1]:
        return []
    bounds = np.unique(np.searchsorted(offsets, np.arange(0, offsets[-1], chunk_tokens)))
    ends = np.append(bounds[1:], len(offsets) - 1)
    return [(int(a), int(b)) for a, b in zip(bounds, ends, strict=True) if b > a]


def _positions(offsets: np.ndarray, history: int) -> np.ndarray:
    """Flat positions with at least `history` tokens before them in their own track."""
    parts = [np.arange(a + history, b) for a, b in itertools.pairwise(offsets)
             if b - a > history]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _ratio(count: np.ndarray, context: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return np.where(valid & (context > 0), count / np.maximum(context, 1), 0.0)


def _perplexity(log_sum: float, count: int) -> float:
    return float(np.exp(-log_sum / count)) if count else math.nan


def window_targets(starts: np.ndarray, seq_len: int, arch: str) -> np.ndarray:
    """The flat positions a network is scored on: every position after the first of each
    window (sequence to sequence) or the one after the window (the seed's single target)."""
    if arch == "seed":
        return np.unique(starts + seq_len)
    return np.unique((starts[:, None] + np.arange(1, seq_len + 1)).ravel())
