"""Features that carry across artists: a track's role in its song and its chords on six strings.

    values = role_features(song, track)          # its ranks among the song's parts, a bass below
    values = fretboard_features(pitch, chord_id) # chords a hand can finger, guitar range

A guitar part is rarely the lowest part (the bass sits below it) and its chords fit under one
hand on six strings, whatever the arranger's habits. scripts/train_guitar_model.py measures each
group on artists the model never saw; octave and unison doubling with another part was measured
too and dropped (no gain on unseen artists, and the costliest to compute).
"""

from __future__ import annotations

import collections
import functools
import itertools

import numpy as np

from deeprock.music.midi import Song, Track

ROLE_FEATURES = (
    "median_rank", "low_rank", "high_rank", "density_rank", "bass_below", "semitones_above_bass",
    "is_lowest",
)
FRETBOARD_FEATURES = (
    "playable_standard_share", "playable_drop_share", "unplayable_chord_share",
    "guitar_range_share",
)
STANDARD_TUNING = (40, 45, 50, 55, 59, 64)  # E2 A2 D3 G3 B3 E4
DROP_D_TUNING = (38, 45, 50, 55, 59, 64)
HIGHEST_FRET = 24
HAND_SPAN_FRETS = 4  # fretted notes at most four frets apart: a 5-fret hand position
BASS_MEDIAN_BELOW = 48  # a part whose median pitch is under C3 plays the bass register


@functools.lru_cache(maxsize=65536)
def playable(pitches: tuple[int, ...], tuning: tuple[int, ...]) -> bool:
    """Can these distinct ascending pitches sound at once, one per string, within one hand span?

    Higher pitches go on higher strings, as nearly every real voicing has them: 20 string
    choices at most instead of 720 orders.
    """
    if len(pitches) > len(tuning):
        return False
    for strings in itertools.combinations(range(len(tuning)), len(pitches)):
        frets = [pitch - tuning[string] for pitch, string in zip(pitches, strings, strict=True)]
        if min(frets) < 0 or max(frets) > HIGHEST_FRET:
            continue
        fretted = [fret for fret in frets if fret > 0]
        if not fretted or max(fretted) - min(fretted) <= HAND_SPAN_FRETS:
            return True
    return False


def fretboard_features(pitch: np.ndarray, chord: np.ndarray) -> dict[str, float]:
    """Chords (onset groups of two or more distinct pitches) fingerable in standard or drop-D.

    Chord shapes repeat, so only the distinct shapes go through the search.
    """
    keys = np.sort(chord.astype(np.int64) * 128 + pitch)
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]  # distinct (chord, pitch), sorted
    pitches = (keys & 127).tolist()
    bounds = [0, *(np.flatnonzero(np.diff(keys >> 7)) + 1).tolist(), len(pitches)]
    chords = [tuple(pitches[a:b]) for a, b in itertools.pairwise(bounds) if b - a > 1]
    counts = collections.Counter(chords)
    standard = sum(n for shape, n in counts.items() if playable(shape, STANDARD_TUNING))
    drop = sum(n for shape, n in counts.items() if playable(shape, DROP_D_TUNING))
    either = sum(n for shape, n in counts.items()
                 if playable(shape, STANDARD_TUNING) or playable(shape, DROP_D_TUNING))
    total = max(len(chords), 1)
    in_range = (pitch >= DROP_D_TUNING[0]) & (pitch <= STANDARD_TUNING[-1] + HIGHEST_FRET)
    return {
        "playable_standard_share": standard / total if chords else 1.0,
        "playable_drop_share": drop / total if chords else 1.0,
        "unplayable_chord_share": (len(chords) - either) / total,
        "guitar_range_share": float(np.count_nonzero(in_range) / max(len(pitch), 1)),
    }


def _summary(track: Track, ticks_per_beat: int) -> tuple[float, float, float, float]:
    """(median, 10th and 90th percentile pitch, onsets per beat while playing) of one track."""
    pitch, start = track.notes["pitch"], track.notes["start"]
    cumulative = np.cumsum(np.bincount(pitch, minlength=128))
    low, median, high = np.searchsorted(cumulative, len(pitch) * np.array([0.1, 0.5, 0.9]))
    span_beats = max((int(start[-1]) - int(start[0])) / ticks_per_beat, 1.0)
    onsets = 1 + np.count_nonzero(np.diff(start))  # notes are sorted by start
    return float(median), float(low), float(high), onsets / span_beats


def _rank(mine: float, others: np.ndarray) -> float:
    """Share of the other tracks below this value (ties count half); 0.5 when alone."""
    if not others.size:
        return 0.5
    return float((np.count_nonzero(others < mine) + 0.5 * np.count_nonzero(others == mine))
                 / others.size)


# the last song's track summaries: a scan asks for every track of one song in a row
_last_song: tuple[Song | None, dict[int, tuple]] = (None, {})


def _summaries(song: Song) -> dict[int, tuple[float, float, float, float]]:
    """id(track) → _summary of every pitched track of the song, computed once per song."""
    global _last_song
    cached_song, summaries = _last_song  # one read: threads may replace it meanwhile
    if cached_song is not song:
        summaries = {id(t): _summary(t, song.ticks_per_beat) for t in song.tracks
                     if not t.is_drum and len(t.notes)}
        _last_song = (song, summaries)  # holding the song keeps its ids from being reused
    return summaries


def role_features(song: Song, track: Track) -> dict[str, float]:
    """Where the track sits among the song's other pitched tracks."""
    summaries = _summaries(song)
    mine = summaries.get(id(track)) or _summary(track, song.ticks_per_beat)
    theirs = np.array([value for key, value in summaries.items()
                       if key != id(track)]).reshape(-1, 4)
    bass = theirs[(theirs[:, 0] < BASS_MEDIAN_BELOW) & (theirs[:, 0] < mine[0] - 5), 0]
    values = {name: _rank(mine[i], theirs[:, i]) for i, name in
              enumerate(("median_rank", "low_rank", "high_rank", "density_rank"))}
    return values | {
        "bass_below": float(bass.size > 0),
        "semitones_above_bass": mine[0] - float(bass.max()) if bass.size else 0.0,
        "is_lowest": float(not theirs.size or mine[0] < theirs[:, 0].min()),
    }
