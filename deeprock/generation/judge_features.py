"""What the artist judge sees of 8 bars of guitar: a fixed-length vector of simple features.

    windows = cut_windows(onsets_twelfths, chords, durations_twelfths)   # 8-bar windows
    window_features(windows[0])                                         # FEATURE_NAMES order

Pitch classes absolute and relative to the most common one (key-free), onset gaps, onset
positions in the beat and in the bar, intervals between successive lowest notes, durations,
range and polyphony. Windows are cut at bar lines (4/4, 48 twelfths a bar, counted from the
stream's start: a catalog stream's first delta counts from its song's start, so its bars are the
song's); a window needs MIN_ONSETS onsets in MIN_BARS playing bars, or it says too little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deeprock.music.tokens import TWELFTHS_PER_BAR, TWELFTHS_PER_QUARTER

WINDOW_BARS = 8
MIN_ONSETS, MIN_BARS = 8, 4
# onset gaps and durations in twelfths: sixteenth 3, triplet eighth 4, eighth 6, quarter 12
RHYTHM_EDGES = (0.5, 2.5, 3.5, 4.5, 5.5, 6.5, 8.5, 11.5, 12.5, 18.5, 24.5, 48.5, np.inf)
INTERVAL_EDGES = (-np.inf, -7.5, -4.5, -2.5, -0.5, 0.5, 2.5, 4.5, 7.5, np.inf)


def _names(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}_{i}" for i in range(count))


FEATURE_NAMES = (
    _names("pitch_class", 12) + _names("relative_pitch_class", 12)
    + _names("gap", len(RHYTHM_EDGES) - 1) + _names("beat_position", TWELFTHS_PER_QUARTER)
    + _names("beat_in_bar", 4) + _names("interval", len(INTERVAL_EDGES) - 1)
    + ("mean_abs_interval",) + _names("duration", len(RHYTHM_EDGES) - 1)
    + ("legato", "pitch_min", "pitch_max", "pitch_span", "pitch_mean", "pitch_std",
       "notes_per_onset", "chord_share", "power_chord_share", "three_note_share",
       "distinct_share", "onsets_per_bar", "playing_bar_share"))


@dataclass
class Window:
    onsets_twelfths: np.ndarray  # from the window's first bar line
    chords: list[list[int]]  # MIDI pitches of each onset, ascending
    durations_twelfths: np.ndarray
    bars: int  # bars the window spans (8, or fewer for a short riff)


def cut_windows(onsets_twelfths: np.ndarray, chords: Sequence[Sequence[int]],
                durations_twelfths: np.ndarray, short_ok: bool = False) -> list[Window]:
    """Consecutive 8-bar windows from the first playing bar; with short_ok, a part shorter than
    8 bars is one window of its bars (a riff is judged whatever its length)."""
    onsets = np.asarray(onsets_twelfths, np.int64)
    sounding = [i for i, chord in enumerate(chords) if chord]  # <unk> sounds nothing
    if not sounding:
        return []
    onsets, durations = onsets[sounding], np.asarray(durations_twelfths, np.int64)[sounding]
    chords = [list(chords[i]) for i in sounding]
    bar = onsets // TWELFTHS_PER_BAR
    first, last = int(bar[0]), int(bar[-1])
    short = short_ok and last - first < WINDOW_BARS  # then one window, of its own bars
    windows = []
    for start in range(first, last + 1, WINDOW_BARS):
        inside = np.flatnonzero((bar >= start) & (bar < start + WINDOW_BARS))
        window = Window(onsets[inside] - start * TWELFTHS_PER_BAR, [chords[i] for i in inside],
                        durations[inside], last - first + 1 if short else WINDOW_BARS)
        if short or _enough(window):
            windows.append(window)
    return windows


def _enough(window: Window) -> bool:
    playing = len(set((window.onsets_twelfths // TWELFTHS_PER_BAR).tolist()))
    return len(window.chords) >= MIN_ONSETS and playing >= MIN_BARS


def _shares(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    counts, _ = np.histogram(values, bins=np.asarray(edges, np.float64))
    return counts / max(len(values), 1)


def window_features(window: Window) -> np.ndarray:
    """The FEATURE_NAMES vector of one window (finite for any window with an onset)."""
    onsets, durations = window.onsets_twelfths, window.durations_twelfths
    pitches = np.array([p for chord in window.chords for p in chord], np.int64)
    sizes = np.array([len(chord) for chord in window.chords])
    classes = np.bincount(pitches % 12, minlength=12) / len(pitches)
    relative = np.roll(classes, -int(np.argmax(classes)))
    gaps = np.diff(onsets)
    lowest = np.array([chord[0] for chord in window.chords])
    intervals = np.diff(lowest)
    power = [len(c) > 1 and c[1] - c[0] == 7 for c in window.chords]
    playing = len(set((onsets // TWELFTHS_PER_BAR).tolist()))
    legato = float(np.median(durations) / np.median(gaps)) if len(gaps) and np.median(gaps) \
        else 1.0
    return np.concatenate((
        classes, relative, _shares(gaps, RHYTHM_EDGES),
        np.bincount(onsets % TWELFTHS_PER_QUARTER, minlength=TWELFTHS_PER_QUARTER) / len(onsets),
        np.bincount(onsets % TWELFTHS_PER_BAR // TWELFTHS_PER_QUARTER, minlength=4) / len(onsets),
        _shares(intervals, INTERVAL_EDGES),
        [float(np.abs(intervals).mean()) if len(intervals) else 0.0],
        _shares(durations, RHYTHM_EDGES),
        [legato, pitches.min(), pitches.max(), pitches.max() - pitches.min(), pitches.mean(),
         pitches.std(), sizes.mean(), np.mean(sizes > 1), np.mean(power), np.mean(sizes > 2),
         len({tuple(c) for c in window.chords}) / len(sizes), len(sizes) / window.bars,
         playing / window.bars]))
