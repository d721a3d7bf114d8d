"""Does a riff come back? Bar-level repetition, groove and scale over windows of 8 bars.

    riff_structure(riff)                               # {"exact_repeat": 0.43, ...}
    dataset_structure(streams, vocabulary)             # median, p10, p90 of each over tracks

A riff's onsets (twelfths of a quarter, from its deltas) are cut into 4/4 bars of 48 twelfths,
the bar line at the riff's start (bar-period repetition does not depend on where it falls).
Over every window of 8 bars in which every bar has an onset (a shorter riff: one window of all
its bars; rests would otherwise count as repeats of each other — with them, the shared corpus's
GM-guitar tracks measure 0.57 / 0.71 instead of the 0.43 / 0.57 of the playing windows):
- exact repeat: share of bars 2..8 equal (same onsets in the bar, same pitches) to an earlier bar
- near repeat: share whose set of (onset in bar, pitch) has Jaccard >= 0.5 with an earlier bar
- groove: muspy's groove consistency, 1 - mean Hamming distance of adjacent bars' 48-slot onset
  vectors over 48
- scale consistency: share of notes in the best-fitting of scales.SCALES on any root.
A riff's figure is the median over its windows; a dataset's, the median, p10 and p90 over its
tracks' figures (a track is measured as a riff is, so the two compare).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from deeprock.generation.riff import Riff
from deeprock.generation.scales import scale_consistency
from deeprock.generation.stats import vocabulary_pitches
from deeprock.music.tokens import TWELFTHS_PER_BAR

WINDOW_BARS = 8
NEAR_JACCARD = 0.5
MEASURES = ("exact_repeat", "near_repeat", "groove", "scale_consistency")

Bar = frozenset  # of (onset in bar, pitch)


def bars(onsets_twelfths: np.ndarray, chords: Sequence[Sequence[int]]) -> list[Bar]:
    """Every bar from the first onset's to the last onset's, as sets of (onset in bar, pitch)."""
    if not len(onsets_twelfths):
        return []
    number = np.asarray(onsets_twelfths, np.int64) // TWELFTHS_PER_BAR
    first = int(number[0])
    contents: list[set] = [set() for _ in range(int(number[-1]) - first + 1)]
    for onset, bar, chord in zip(onsets_twelfths, number, chords, strict=True):
        contents[int(bar) - first].update((int(onset) % TWELFTHS_PER_BAR, p) for p in chord)
    return [frozenset(content) for content in contents]


def _jaccard(first: Bar, second: Bar) -> float:
    union = len(first | second)
    return len(first & second) / union if union else 1.0


def _onset_vector(bar: Bar) -> np.ndarray:
    vector = np.zeros(TWELFTHS_PER_BAR, bool)
    vector[[onset for onset, _ in bar]] = True
    return vector


def window_measures(window: Sequence[Bar]) -> dict[str, float]:
    """The four measures of one window of bars (at least two)."""
    later = window[1:]
    exact = [any(bar == earlier for earlier in window[:k + 1]) for k, bar in enumerate(later)]
    near = [any(_jaccard(bar, earlier) >= NEAR_JACCARD for earlier in window[:k + 1])
            for k, bar in enumerate(later)]
    vectors = [_onset_vector(bar) for bar in window]
    distance = np.mean([np.sum(a != b) for a, b in pairwise(vectors)]) / TWELFTHS_PER_BAR
    pitches = [pitch for bar in window for _, pitch in bar]
    return {"exact_repeat": float(np.mean(exact)), "near_repeat": float(np.mean(near)),
            "groove": float(1.0 - distance), "scale_consistency": scale_consistency(pitches)}


def structure(onsets_twelfths: np.ndarray, chords: Sequence[Sequence[int]]) -> dict:
    """Median of each measure over the 8-bar windows of playing bars (None for a riff under two
    bars or without such a window)."""
    cut = bars(onsets_twelfths, chords)
    starts = range(max(len(cut) - WINDOW_BARS, 0) + 1)
    windows = [window_measures(window) for window in (cut[s:s + WINDOW_BARS] for s in starts)
               if len(window) >= 2 and all(window)]
    return {name: _median([w[name] for w in windows]) for name in MEASURES}


def _median(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if known else None


def riff_structure(riff: Riff) -> dict:
    """The measures of a riff's generated part (free mode: the model alone)."""
    generated = riff.generated()
    onsets = generated.onsets_twelfths() - generated.generated_onset_twelfths()
    return structure(onsets, generated.chords())


def dataset_structure(streams: Sequence[np.ndarray], vocabulary: Sequence[str],
                      deltas: Sequence[np.ndarray]) -> dict:
    """Each measure's median, p10 and p90 over the tracks (ids into `vocabulary`, and their
    deltas; a stream's first delta counts from its song's start, so its bars are the song's)."""
    pitches = vocabulary_pitches(vocabulary)
    per_track = [structure(np.cumsum(delta), [pitches[i] for i in ids])
                 for ids, delta in zip(streams, deltas, strict=True)]
    summary = {}
    for name in MEASURES:
        values = [track[name] for track in per_track if track[name] is not None]
        summary[name] = ({"median": float(np.median(values)),
                          "p10": float(np.percentile(values, 10)),
                          "p90": float(np.percentile(values, 90)), "tracks": len(values)}
                         if values else None)
    return summary
