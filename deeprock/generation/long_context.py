"""Perplexity far past the training window: does a run still follow a song at token 300?

    long_context_perplexity(run, catalog_path, start=200, end=500)
    # {"tracks": 64, "targets": 19200, "perplexity": 41.2, "window_perplexity": 38.0, ...}

Runs train on windows of seq_len tokens from a zero state, but a riff is generated hundreds of
tokens past its primer: the LSTM carries its (h, c), the transformer slides its key/value
cache. This feeds long held-out tracks (the run's validation side, split.json) step by step
through the very numpy network generation uses and scores the next-token predictions at
positions start..end-1, beside the same tracks' first seq_len predictions (what training saw),
so a run that forgets, or drifts, past its window shows it.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from deeprock.generation.generate import LoadedRun, feed
from deeprock.generation.heads import softmax
from deeprock.generation.primers import run_streams
from deeprock.training.vocab import rhythm_classes

DEFAULT_START, DEFAULT_END = 200, 500
MAX_TRACKS = 64
BATCH_TRACKS = 16  # the transformer's cache is (batch, heads, tokens, size) per layer


def long_context_perplexity(run: LoadedRun, catalog_path: str, start: int = DEFAULT_START,
                            end: int = DEFAULT_END, max_tracks: int = MAX_TRACKS) -> dict:
    """Next-token perplexity at positions start..end-1 of held-out tracks of at least `end`
    tokens (at most max_tracks, evenly spread), and over their first seq_len positions."""
    if not 0 < start < end:
        raise ValueError(f"need 0 < start < end, not {start} and {end}")
    tracks = _long_tracks(run, catalog_path, end, max_tracks)
    if not tracks:
        return {"tracks": 0, "targets": 0, "perplexity": None, "window_perplexity": None,
                "start": start, "end": end}
    window = min(run.window_tokens, end)
    with threadpool_limits(limits=1, user_api="blas"):
        losses = np.concatenate([_losses(run, tracks[i:i + BATCH_TRACKS], end)
                                 for i in range(0, len(tracks), BATCH_TRACKS)])
    late, early = losses[:, start - 1:end - 1], losses[:, :window - 1]
    return {"tracks": len(tracks), "targets": int(late.size), "start": start, "end": end,
            "perplexity": float(np.exp(late.mean())),
            "window_perplexity": float(np.exp(early.mean())), "window": window}


def _long_tracks(run: LoadedRun, catalog_path: str, end: int, max_tracks: int) -> list:
    """(ids, delta classes, duration classes, bar positions) of long validation tracks."""
    streams = run_streams(catalog_path, run.split)
    lookup = run.vocabulary.lookup(streams.tokens)
    long = [s for s in streams.validation if len(s.ids) >= end]
    if len(long) > max_tracks:
        long = [long[i] for i in np.linspace(0, len(long) - 1, max_tracks).astype(int)]
    return [(lookup[s.ids[:end]], rhythm_classes(s.delta[:end]),
             rhythm_classes(s.duration[:end]),
             s.position[:end] if s.position is not None and len(s.position)
             else np.zeros(end, np.int32))
            for s in long]


def _losses(run: LoadedRun, tracks: list, end: int) -> np.ndarray:
    """(tracks, end - 1) negative log-probabilities of each next token, fed one step at a time."""
    ids, deltas, durations, positions = (np.stack(column) for column in zip(*tracks, strict=True))
    net = run.network
    state = net.initial_state(len(tracks))
    rows = np.arange(len(tracks))
    losses = np.zeros((len(tracks), end - 1), np.float64)
    for step in range(end - 1):
        logits, _, state = feed(net, (ids[:, step], deltas[:, step], durations[:, step],
                                      positions[:, step]), state)
        probabilities = softmax(logits.astype(np.float64))[rows, ids[:, step + 1]]
        losses[:, step] = -np.log(np.maximum(probabilities, 1e-12))
    return losses
