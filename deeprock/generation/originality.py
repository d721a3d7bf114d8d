"""The originality guard: no run of more than K generated tokens copied from the training songs.

    guard = originality_guard(run, max_copy=8)       # built once per run, catalog and K
    guard.forbidden(contexts)                        # per row of the last K generated ids:
                                                     # the ids that would complete a copy

In the spirit of MaxOrder (Papadopoulos, Roy & Pachet, AAAI 2014): every (K+1)-gram of the
run's training tracks is indexed by the hash of its first K tokens (copyindex's polynomial
hash), sorted, with the token that followed. While sampling, the last K generated tokens are
hashed and looked up (a binary search per variation), and the tokens that followed that
context in training are forbidden, so no K+1 generated tokens in a row occur verbatim in one
training track. A hash collision can only forbid a token too many, never let a copy through.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deeprock.generation.copyindex import ngram_hashes, row_hashes
from deeprock.generation.primers import catalog_version, run_streams
from deeprock.training.runs import RunSplit

# the median longest copy of a validation song's 200-token chunk from the training songs,
# ../shared/corpus/deeprock split by artist (docs/architecture.md): a riff copies no more
DEFAULT_MAX_COPY = 8
MAX_COPY_LIMIT = 1000


@dataclass(frozen=True)
class OriginalityGuard:
    max_copy: int  # K: the longest verbatim run allowed
    context_hashes: np.ndarray  # sorted: the hash of each training K-gram that has a next token
    next_ids: np.ndarray  # the run id that followed it, in the same order

    @classmethod
    def from_streams(cls, streams: Sequence[np.ndarray], max_copy: int) -> OriginalityGuard:
        """The index of run-id streams (one per training track; an n-gram never crosses the
        end of its track). Build O(tokens log tokens), numpy."""
        lengths = np.array([len(stream) for stream in streams], np.int64)
        ids = (np.concatenate(streams).astype(np.int64) if len(streams)
               else np.zeros(0, np.int64))
        stream_end = np.repeat(np.cumsum(lengths), lengths)
        starts = np.flatnonzero(np.arange(len(ids)) + max_copy < stream_end)
        hashes = ngram_hashes(ids, starts, max_copy)
        order = np.argsort(hashes, kind="stable")
        return cls(max_copy, hashes[order], ids[starts[order] + max_copy].astype(np.int32))

    def forbidden(self, contexts: np.ndarray) -> list[np.ndarray]:
        """For each row of K ids: the ids that follow those K tokens somewhere in training."""
        hashes = row_hashes(contexts)
        low = np.searchsorted(self.context_hashes, hashes, "left")
        high = np.searchsorted(self.context_hashes, hashes, "right")
        return [self.next_ids[start:end] for start, end in zip(low, high, strict=True)]


def originality_guard(run, max_copy: int) -> OriginalityGuard:
    """The guard over a LoadedRun's training tracks, read from its catalog (a PrimerError when
    the catalog is not there); cached, so that only the first riff of a run pays the build."""
    catalog = run.config.catalog
    return _guard(catalog, catalog_version(catalog), run.split, tuple(run.vocabulary.tokens),
                  max_copy)


@functools.lru_cache(maxsize=4)
def _guard(catalog: str, version: tuple, split: RunSplit, vocabulary: tuple[str, ...],
           max_copy: int) -> OriginalityGuard:
    del version  # part of the cache key only
    read = run_streams(catalog, split)
    run_ids = {token: number for number, token in enumerate(vocabulary)}
    # catalog id → run id; a token the run does not know becomes <unk> (0), which the sampler
    # never picks, so an n-gram through it can never be completed
    lookup = np.array([run_ids.get(token, 0) for token in read.tokens], np.int32)
    return OriginalityGuard.from_streams([lookup[s.ids] for s in read.train if len(s.ids)],
                                         max_copy)
