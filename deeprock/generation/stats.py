"""A riff's statistics beside its dataset's, so a user sees whether it sounds like the data.

    riff_stats(riff)                                  # one riff
    dataset_stats(streams, vocabulary, deltas)        # training token id arrays (+ rhythm)
    pitch_class_distance(a["pitch_class_histogram"], b["pitch_class_histogram"])

Both give the same keys: pitch-class histogram (shares of all sounding pitches), pitch range,
notes per bar (tokens, a chord counting once, per 4/4 bar between the first and last onset),
share of chords, distinct tokens per 32 (mean over windows of 32, counted as the windows
module counts them), and the longest run of one repeated token (the post's failure: one note
forever). The dataset adds the 99th percentile of that run over chunks of riff length; a riff,
how many distinct gaps its onsets have.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deeprock.corpus.windows import WindowStats
from deeprock.generation.riff import Riff
from deeprock.music.tokens import TWELFTHS_PER_BAR, token_pitches

DISTINCT_WINDOW = 32
RUN_CHUNK_TOKENS = 200  # riffs of the quality check are this long


def pitch_class_distance(first: Sequence[float], second: Sequence[float]) -> float:
    """Total variation distance of two pitch-class histograms: 0 same, 1 disjoint."""
    return float(0.5 * np.abs(np.asarray(first, float) - np.asarray(second, float)).sum())


def longest_repeat(ids: np.ndarray) -> int:
    """Longest run of one token repeated back to back."""
    return int(longest_repeats(np.asarray(ids), np.array([0]), np.array([len(ids)]))[0])


def longest_repeats(ids: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Longest run of one token inside each segment ids[starts[k]:ends[k]] (sorted, disjoint),
    in one pass over the array rather than one numpy call per segment."""
    longest = np.zeros(len(starts), np.int64)
    if not len(ids):
        return longest
    new_run = np.ones(len(ids), bool)
    new_run[1:] = ids[1:] != ids[:-1]
    new_run[starts[starts < len(ids)]] = True
    new_run[ends[ends < len(ids)]] = True
    run_starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(run_starts, len(ids)))
    segment = np.searchsorted(starts, run_starts, side="right") - 1
    inside = (segment >= 0) & (run_starts < ends[np.maximum(segment, 0)])
    np.maximum.at(longest, segment[inside], lengths[inside])
    return longest


def vocabulary_pitches(vocabulary: Sequence[str]) -> list[list[int]]:
    """Per token: its pitches ('<unk>' and other special tokens sound none)."""
    pitches = []
    for token in vocabulary:
        try:
            pitches.append(token_pitches(token))
        except ValueError:
            pitches.append([])
    return pitches


def _vocabulary_pitches(vocabulary: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list]:
    """Per token: pitch-class counts (V x 12), is it a chord, its pitches (specials: none)."""
    pitches = vocabulary_pitches(vocabulary)
    classes = np.zeros((len(vocabulary), 12), np.int64)
    for token_id, chord in enumerate(pitches):
        np.add.at(classes[token_id], [p % 12 for p in chord], 1)
    is_chord = np.array([len(chord) > 1 for chord in pitches], bool)
    return classes, is_chord, pitches


def _concatenated(streams: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ids in one array, with each stream's offset and length."""
    lengths = np.array([len(stream) for stream in streams], np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths)))[:-1]
    ids = (np.concatenate([np.asarray(s, np.int64) for s in streams]) if len(streams)
           else np.zeros(0, np.int64))
    return ids, offsets, lengths


def _summary(streams: Sequence[np.ndarray], vocabulary: Sequence[str],
             deltas: Sequence[np.ndarray] | None) -> dict:
    classes, is_chord, pitches = _vocabulary_pitches(vocabulary)
    ids, offsets, lengths = _concatenated(streams)
    counts = np.bincount(ids, minlength=len(vocabulary))
    histogram = counts @ classes
    used = [p for token_id in np.flatnonzero(counts) for p in pitches[token_id]]
    windows = WindowStats.from_streams(list(streams), DISTINCT_WINDOW).distinct
    short = [len(np.unique(s)) for s in streams if 0 < len(s) <= DISTINCT_WINDOW]
    distinct = np.concatenate((windows, short)) if len(windows) or short else np.zeros(1)
    return {
        "tokens": len(ids),
        "pitch_class_histogram": (histogram / max(histogram.sum(), 1)).tolist(),
        "pitch_range": [min(used), max(used)] if used else None,
        "notes_per_bar": _notes_per_bar(deltas) if deltas is not None else None,
        "chord_share": float(is_chord[ids].mean()) if len(ids) else 0.0,
        f"distinct_per_{DISTINCT_WINDOW}": float(np.mean(distinct)),
        "longest_repeat": int(longest_repeats(ids, offsets, offsets + lengths).max(initial=0)),
    }


def _notes_per_bar(deltas: Sequence[np.ndarray]) -> float | None:
    """Onsets after the first per bar of time between the first and the last onset, pooled."""
    gaps = sum(max(len(d) - 1, 0) for d in deltas)
    span_twelfths = sum(int(np.sum(d[1:])) for d in deltas)
    return gaps * TWELFTHS_PER_BAR / span_twelfths if span_twelfths else None


def riff_stats(riff: Riff) -> dict:
    """The statistics of one riff (primer included: it is what the user hears)."""
    vocabulary = sorted(set(riff.tokens))
    position = {token: token_id for token_id, token in enumerate(vocabulary)}
    ids = np.array([position[token] for token in riff.tokens], np.int64)
    stats = _summary([ids], vocabulary, [riff.delta_twelfths])
    # evenly spaced onsets (the post's 0.3 quarters) have one gap; a rhythm has several
    stats["distinct_gaps"] = len(np.unique(riff.delta_twelfths[1:]))
    return stats


def dataset_stats(streams: Sequence[np.ndarray], vocabulary: Sequence[str],
                  deltas: Sequence[np.ndarray] | None = None,
                  chunk_tokens: int = RUN_CHUNK_TOKENS) -> dict:
    """The same over training streams (ids into `vocabulary`; deltas give notes per bar), and
    the 99th percentile of the longest repeat in chunks of `chunk_tokens`, a riff's ceiling."""
    stats = _summary(streams, vocabulary, deltas)
    ids, offsets, lengths = _concatenated(streams)
    # the whole chunks of each stream; a stream shorter than a chunk is one chunk
    chunks = [(offset + start, offset + min(start + chunk_tokens, length))
              for offset, length in zip(offsets.tolist(), lengths.tolist(), strict=True) if length
              for start in range(0, max(length - chunk_tokens, 0) + 1, chunk_tokens)]
    starts, ends = np.array(chunks, np.int64).reshape(-1, 2).T
    chunk_runs = longest_repeats(ids, starts, ends)
    stats["longest_repeat_p99"] = (float(np.percentile(chunk_runs, 99)) if len(chunk_runs)
                                   else 0.0)
    return stats
