"""What a track's notes say about its instrument: a fixed-length feature vector.

    features = track_features(song, track)  # float64, one value per FEATURE_NAMES entry

The guitar model (guitar.infer) reads these for tracks without a program or telling name, so
every feature comes from notes and timing alone, computed with a few dozen vectorized numpy
calls (about a third of a millisecond for a track of a few hundred notes). Notes whose onsets
chain less than a sixty-fourth note apart form one "chord": a strum's strings start 5-25 ms
apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprock.music.guitar_context import (
    FRETBOARD_FEATURES,
    ROLE_FEATURES,
    fretboard_features,
    role_features,
)
from deeprock.music.midi import Song, Track

BASE_FEATURES = (
    # pitch: a guitar sounds from E2 (40) to about E6 (88)
    "pitch_min", "pitch_q10", "pitch_median", "pitch_q90", "pitch_max", "pitch_std",
    "below_e2_share", "above_e6_share", "distinct_pitches", "distinct_pitch_classes",
    "mode_pitch_share",
    # chords: polyphony and the shapes six strings allow
    "notes_per_onset", "chord_share", "three_class_share", "five_note_share",
    "unplayable_share", "power_chord_share", "power_chord_of_chords", "octave_share",
    "chord_span_mean", "cluster_share", "strum_share", "chord_low_in_guitar_share",
    # note lengths, in beats
    "duration_q10", "duration_median", "duration_q90", "short_share", "long_share",
    "overlap_share", "rest_share",
    # density and coverage
    "log_notes", "notes_per_beat", "onsets_per_beat", "onsets_per_second", "active_bar_share",
    "song_coverage",
    # rhythm: grid and inter-onset intervals (beats)
    "sixteenth_grid_share", "triplet_only_share", "eighth_grid_share", "ioi_median", "ioi_cv",
    "ioi_mode_share",
    # velocity
    "velocity_mean", "velocity_std", "velocity_mode_share", "distinct_velocities",
    # repetition and melodic motion
    "repeat_share", "same_chord_share", "bar_repeat_share", "top_step_median", "stepwise_share",
    "leap_share",
    # place among the song's pitched tracks
    "pitch_rank", "pitched_tracks", "song_note_share",
)
# measured one by one on unseen artists (bench/RESULTS.md); the model reads them in this order
FEATURE_GROUPS = {"base": BASE_FEATURES, "role": ROLE_FEATURES,
                  "fretboard": FRETBOARD_FEATURES}
FEATURE_NAMES = tuple(name for group in FEATURE_GROUPS.values() for name in group)
STRUM_WINDOW_BEATS = 1 / 16
GRID_TOLERANCE_BEATS = 0.02
GUITAR_LOW, GUITAR_HIGH = 40, 88
# power chord: root, fifth, octave, and the fifth and root above (a lower-string shape)
POWER_INTERVALS = np.zeros(128, bool)
POWER_INTERVALS[[0, 7, 12, 19, 24]] = True
HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads (position, pitch)


@dataclass
class _Onsets:
    """The track's notes grouped into chords (onset groups), with each chord's shape."""

    first: np.ndarray  # index of each chord's first note
    chord: np.ndarray  # chord id of each note
    size: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def group(cls, start: np.ndarray, pitch: np.ndarray, window_ticks: float) -> _Onsets:
        new_chord = np.empty(len(start), bool)
        new_chord[0] = True
        np.greater(np.diff(start), window_ticks, out=new_chord[1:])
        first = np.flatnonzero(new_chord)
        size = np.diff(first, append=len(start))
        return cls(first, np.repeat(np.arange(len(first)), size), size,
                   np.minimum.reduceat(pitch, first), np.maximum.reduceat(pitch, first))


def track_features(song: Song, track: Track) -> np.ndarray:
    """The feature vector of one track, in FEATURE_NAMES order."""
    notes = track.notes
    if len(notes) == 0:
        return np.zeros(len(FEATURE_NAMES))
    tpb = float(song.ticks_per_beat)
    pitch = notes["pitch"].astype(np.int64)
    onsets = _Onsets.group(notes["start"], pitch, STRUM_WINDOW_BEATS * tpb)
    values = _pitch(pitch)
    values |= _chords(notes["start"], pitch, onsets)
    values |= _durations(notes, onsets, tpb)
    values |= _density(song, notes, onsets, tpb)
    values |= _rhythm(notes["start"][onsets.first] / tpb)
    values |= _velocity(notes["velocity"])
    values |= _motion(notes["start"], pitch, onsets, tpb)
    values |= _context(song, track)
    values |= role_features(song, track)
    values |= fretboard_features(pitch, onsets.chord)
    return np.array([values[name] for name in FEATURE_NAMES], dtype=np.float64)


def _share(mask: np.ndarray) -> float:
    return np.count_nonzero(mask) / mask.size if mask.size else 0.0


def _quantiles(values: np.ndarray, *levels: float) -> list[float]:
    """Lower quantiles of a non-empty array: one sort, far cheaper than np.quantile."""
    ordered = np.sort(values)
    return [float(ordered[int(level * (len(ordered) - 1))]) for level in levels]


def _pitch(pitch: np.ndarray) -> dict[str, float]:
    counts = np.bincount(pitch, minlength=128)
    q10, median, q90 = np.searchsorted(np.cumsum(counts), len(pitch) * np.array([0.1, 0.5, 0.9]))
    return {
        "pitch_min": float(pitch.min()), "pitch_q10": float(q10), "pitch_median": float(median),
        "pitch_q90": float(q90), "pitch_max": float(pitch.max()), "pitch_std": float(pitch.std()),
        "below_e2_share": _share(pitch < GUITAR_LOW), "above_e6_share": _share(pitch > GUITAR_HIGH),
        "distinct_pitches": float(np.count_nonzero(counts)),
        "distinct_pitch_classes": float(np.count_nonzero(np.bincount(pitch % 12))),
        "mode_pitch_share": counts.max() / len(pitch),
    }


def _chords(start: np.ndarray, pitch: np.ndarray, onsets: _Onsets) -> dict[str, float]:
    """Shapes of the onset groups: size, span, power chords, close clusters, strums."""
    count, chord = len(onsets.first), onsets.chord
    relative = pitch - onsets.low[chord]
    off_power = np.bincount(chord, ~POWER_INTERVALS[relative], minlength=count)
    fifth = np.bincount(chord, (relative == 7) | (relative == 19), minlength=count)
    classes = np.zeros((count, 12), bool)
    classes[chord, pitch % 12] = True
    class_count = classes.sum(1)
    multi = onsets.size > 1
    power = multi & (off_power == 0) & (fifth > 0)
    span = onsets.high - onsets.low
    # a second between neighbouring chord notes: a keyboard voicing, rare across guitar strings
    by_pitch = np.sort(chord * 128 + pitch)
    neighbours = (by_pitch[1:] >> 7) == (by_pitch[:-1] >> 7)
    last = onsets.first + onsets.size - 1
    return {
        "notes_per_onset": len(pitch) / count, "chord_share": _share(multi),
        "three_class_share": _share(class_count >= 3), "five_note_share": _share(onsets.size >= 5),
        # six strings span two octaves, plus the four frets a hand reaches
        "unplayable_share": _share((onsets.size > 6) | (span > 28)),
        "power_chord_share": _share(power), "power_chord_of_chords": _share(power[multi]),
        "octave_share": _share(multi & (class_count == 1)),
        "chord_span_mean": float(span[multi].mean()) if multi.any() else 0.0,
        "cluster_share": _share(np.diff(by_pitch)[neighbours] <= 2),
        "strum_share": _share((start[last] > start[onsets.first])[multi]),
        "chord_low_in_guitar_share": _share((onsets.low[multi] >= GUITAR_LOW) &
                                            (onsets.low[multi] <= 64)),
    }


def _durations(notes: np.ndarray, onsets: _Onsets, tpb: float) -> dict[str, float]:
    """Lengths in beats; overlap: still sounding at the next onset; rest: silent time."""
    start, end = notes["start"], notes["start"] + notes["duration"]
    duration = notes["duration"] / tpb
    q10, median, q90 = _quantiles(duration, 0.1, 0.5, 0.9)
    next_onset = np.append(start[onsets.first[1:]], np.iinfo(np.int64).max)[onsets.chord]
    sounding_until = np.maximum.accumulate(end)
    silent = np.maximum(start[1:] - sounding_until[:-1], 0).sum()
    return {
        "duration_q10": q10, "duration_median": median, "duration_q90": q90,
        "short_share": _share(duration < 0.2), "long_share": _share(duration > 2.0),
        "overlap_share": _share(end > next_onset),
        "rest_share": silent / max(sounding_until[-1] - start[0], 1),
    }


def _density(song: Song, notes: np.ndarray, onsets: _Onsets, tpb: float) -> dict[str, float]:
    """How busy the track is while it plays, and how much of the song it plays in."""
    start = notes["start"]
    span_ticks = max(float((start + notes["duration"]).max() - start[0]), tpb)
    bars = start // int(4 * tpb)
    played_bars = np.count_nonzero(np.bincount(bars - bars[0]))
    onsets_per_beat = len(onsets.first) * tpb / span_ticks
    # onset to onset: the song's last onset is one look-up per track, its last note-off is not
    song_last_onset = max((int(t.notes["start"][-1]) for t in song.tracks if len(t.notes)),
                          default=0)
    return {
        "log_notes": float(np.log(len(notes))), "notes_per_beat": len(notes) * tpb / span_ticks,
        "onsets_per_beat": onsets_per_beat, "onsets_per_second": onsets_per_beat * song.tempo / 60,
        "active_bar_share": played_bars / (bars[-1] - bars[0] + 1),
        "song_coverage": (start[-1] - start[0]) / max(song_last_onset, 1),
    }


def _rhythm(onset_beats: np.ndarray) -> dict[str, float]:
    """Quantized or played, and how regular: strummed eighths repeat one interval."""
    phase = onset_beats % 1.0

    def on_grid(steps: int) -> np.ndarray:
        return np.abs(phase * steps - np.round(phase * steps)) <= GRID_TOLERANCE_BEATS * steps

    sixteenth = on_grid(4)
    ioi = np.diff(onset_beats)
    if ioi.size == 0:
        ioi_median = ioi_cv = ioi_mode_share = 0.0
    else:
        (ioi_median,), mean = _quantiles(ioi, 0.5), ioi.mean()
        ioi_cv = float(ioi.std() / mean) if mean > 0 else 0.0
        twelfths = np.minimum(np.round(ioi * 12), 96).astype(np.int64)
        ioi_mode_share = np.bincount(twelfths).max() / ioi.size
    return {
        "sixteenth_grid_share": _share(sixteenth),
        "triplet_only_share": _share(on_grid(3) & ~sixteenth),
        "eighth_grid_share": _share(on_grid(2)), "ioi_median": ioi_median, "ioi_cv": ioi_cv,
        "ioi_mode_share": ioi_mode_share,
    }


def _velocity(velocity: np.ndarray) -> dict[str, float]:
    counts = np.bincount(velocity, minlength=128)
    return {
        "velocity_mean": float(velocity.mean()), "velocity_std": float(velocity.std()),
        "velocity_mode_share": counts.max() / len(velocity),
        "distinct_velocities": float(np.count_nonzero(counts)),
    }


def _motion(start: np.ndarray, pitch: np.ndarray, onsets: _Onsets,
            tpb: float) -> dict[str, float]:
    """Chugging on one chord, riffs repeated bar for bar, stepwise melody or leaps."""
    low, high, size = onsets.low, onsets.high, onsets.size
    same_low = low[1:] == low[:-1]
    step = np.abs(np.diff(high))
    return {
        "repeat_share": _share(same_low),
        "same_chord_share": _share(same_low & (high[1:] == high[:-1]) & (size[1:] == size[:-1])),
        "bar_repeat_share": _bar_repeat_share(start, pitch, int(4 * tpb)),
        "top_step_median": _quantiles(step, 0.5)[0] if step.size else 0.0,
        "stepwise_share": _share((step >= 1) & (step <= 2)), "leap_share": _share(step >= 7),
    }


def _bar_repeat_share(start: np.ndarray, pitch: np.ndarray, bar_ticks: int) -> float:
    """Share of played bars whose notes (position in sixteenths, pitch) recur in another bar.

    Each bar is summarized by the wrapping sum of its notes' hashes: equal bars, equal sums.
    """
    bar = start // bar_ticks
    sixteenth = (start - bar * bar_ticks) * 16 // bar_ticks
    keys = (sixteenth * 128 + pitch + 1).astype(np.uint64) * HASH_MULTIPLIER
    bar_first = np.flatnonzero(np.diff(bar, prepend=-1))
    sums = np.sort(np.add.reduceat(keys, bar_first))
    equal = sums[1:] == sums[:-1]
    repeated = np.zeros(len(sums), bool)
    repeated[1:] |= equal
    repeated[:-1] |= equal
    return np.count_nonzero(repeated) / len(sums)


def _context(song: Song, track: Track) -> dict[str, float]:
    """Where the track sits among the song's pitched tracks: a bass is the lowest of them."""
    pitched = [t for t in song.tracks if not t.is_drum and len(t.notes)]
    mine = float(track.notes["pitch"].mean())
    others = np.array([t.notes["pitch"].mean() for t in pitched if t is not track])
    lower = np.count_nonzero(others < mine) + 0.5 * np.count_nonzero(others == mine)
    total = sum(len(t.notes) for t in pitched) or len(track.notes)
    return {
        "pitch_rank": lower / others.size if others.size else 0.5,
        "pitched_tracks": float(len(pitched)), "song_note_share": len(track.notes) / total,
    }
