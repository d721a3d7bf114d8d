"""A track → tokens: notes 'E4' and chords 'E2 B2 E3', each with its rhythm; the vocabulary.

    stream = tokenize(song, track)  # .tokens, .delta_twelfths, .duration_twelfths, .bar, ...
    positions, bars = bar_positions(onsets_twelfths, song_meters(song))

Rules (docs/architecture.md): pitch as music21 spells MIDI pitches; onsets quantized to the post's
music21 grid (sixteenths and eighth-note triplets); notes form one chord of distinct pitches in
ascending order as music21 gathers them (the post's tokens): each note not yet in a chord starts
one and takes the following notes that start less than a sixteenth after it and end within a
sixteenth of it. Rhythm is kept in twelfths of a quarter, the smallest unit holding both grids
(a sixteenth is 3, a triplet eighth 4). Each token also has its place in its bar, from the file's
own time signatures: a bar of n/d lasts n * 48 / d twelfths (3/4 and 6/8 36, 7/8 42), and a
meter change starts a new bar where it stands.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numba
import numpy as np

from deeprock.music.midi import Song, Track

PITCH_CLASSES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B")
PITCH_NAMES = tuple(f"{PITCH_CLASSES[p % 12]}{p // 12 - 1}" for p in range(128))
TWELFTHS_PER_QUARTER = 12
# 4/4: a riff's default meter, and the bar of the riff measures defined on 4/4 bars
BEATS_PER_BAR = 4
TWELFTHS_PER_BAR = BEATS_PER_BAR * TWELFTHS_PER_QUARTER
# music21's chord window (midi.translate: ticksPerQuarter / max(quarterLengthDivisors)): a strum,
# and the ringing of its strings, fit in a sixteenth
CHORD_WINDOW_QUARTERS = 0.25


@dataclass
class TokenStream:
    names: list[str]  # each distinct token once
    ids: np.ndarray  # index into names, one per token
    delta_twelfths: np.ndarray  # time since the previous token (the first: since the start)
    duration_twelfths: np.ndarray
    position_twelfths: np.ndarray  # from the bar line of the token's bar
    bar: np.ndarray  # 0-based bar number in the song

    @property
    def tokens(self) -> list[str]:
        return [self.names[i] for i in self.ids]


@dataclass(frozen=True)
class Meter:
    start_twelfths: int  # from the song's start, on the token grid
    numerator: int
    denominator: int

    @property
    def bar_twelfths(self) -> int:
        return meter_bar_twelfths(self.numerator, self.denominator)


def meter_bar_twelfths(numerator: int, denominator: int) -> int:
    """A bar of numerator/denominator in twelfths (4/4 48, 3/4 and 6/8 36, 7/8 42), at least 1:
    the one bar length of a song's meters and of a riff's."""
    return max(round(numerator * 4 * TWELFTHS_PER_QUARTER / denominator), 1)


def song_meters(song: Song) -> list[Meter]:
    """The song's time signatures on the token grid; at one grid point the later one wins."""
    starts = quantize_twelfths(np.array([tick for tick, _, _ in song.meters])
                               / song.ticks_per_beat)
    by_start = {int(start): Meter(int(start), numerator, denominator)
                for start, (_, numerator, denominator) in zip(starts, song.meters, strict=True)}
    return [by_start[start] for start in sorted(by_start)]


def bar_positions(onsets_twelfths: np.ndarray, meters: list[Meter]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Each onset's position in its bar (twelfths from the bar line) and its 0-based bar number.

    Bars run from each meter's start with that meter's length; a meter change in the middle of
    a bar cuts it short (the cut bar still counts), and the new meter's first bar starts at it.
    """
    starts = np.array([meter.start_twelfths for meter in meters], np.int64)
    lengths = np.array([meter.bar_twelfths for meter in meters], np.int64)
    first_bar = np.concatenate(([0], np.cumsum(-(-np.diff(starts) // lengths[:-1]))))
    onsets = np.asarray(onsets_twelfths, np.int64)
    which = np.clip(np.searchsorted(starts, onsets, side="right") - 1, 0, None)
    since = onsets - starts[which]
    return since % lengths[which], first_bar[which] + since // lengths[which]


def bar_twelfths_at(meters: list[Meter], onset_twelfths: int) -> int:
    """The length of the bar an onset falls in: its meter's."""
    starts = [meter.start_twelfths for meter in meters]
    return meters[max(bisect.bisect_right(starts, onset_twelfths) - 1, 0)].bar_twelfths


def pitch_name(pitch: int) -> str:
    return PITCH_NAMES[pitch]


def quantize_twelfths(quarters: np.ndarray) -> np.ndarray:
    """Snap to the nearer of the sixteenth grid and the eighth-triplet grid, as music21 does."""
    quarters = np.asarray(quarters, dtype=np.float64)
    sixteenths = np.round(quarters * 4) * 3
    triplets = np.round(quarters * 3) * 4
    raw = quarters * TWELFTHS_PER_QUARTER
    use_triplets = np.abs(triplets - raw) < np.abs(sixteenths - raw)
    return np.where(use_triplets, triplets, sixteenths).astype(np.int64)


@dataclass
class ChordSpans:
    """The chords of a track as the tokens cut them: the one chord rule, shared with the tab."""
    group: np.ndarray  # chord id of each note (notes sorted by onset)
    onsets_twelfths: np.ndarray  # per chord: its first note's quantized onset
    ends_twelfths: np.ndarray  # per chord: its latest quantized note end


def chord_spans(song: Song, track: Track) -> ChordSpans:
    """Group a track's notes into chords and give each chord its quantized onset and end.

    Ids count up in the order of each chord's first note; a chord's notes need not be adjacent
    (a longer note struck with it starts a chord of its own). The track must have notes.
    """
    notes = track.notes
    starts, ends = notes["start"], notes["start"] + notes["duration"]
    group = _gather(starts, ends, CHORD_WINDOW_QUARTERS * song.ticks_per_beat)
    # a note is its chord's first when its id is new
    seen = np.maximum.accumulate(group)
    first = np.flatnonzero(np.concatenate(([True], group[1:] > seen[:-1])))
    onsets = quantize_twelfths(starts[first] / song.ticks_per_beat)
    chord_ends = np.zeros(len(first), np.int64)
    np.maximum.at(chord_ends, group, quantize_twelfths(ends / song.ticks_per_beat))
    return ChordSpans(group, onsets, chord_ends)


@numba.njit(cache=True, nogil=True)
def _gather(start: np.ndarray, end: np.ndarray, window: float) -> np.ndarray:
    """music21's midiTrackToStream: a chord's notes start and end within `window` of its first."""
    group = np.full(len(start), -1, np.int64)
    count = 0
    for first in range(len(start)):
        if group[first] >= 0:
            continue
        group[first] = count
        for other in range(first + 1, len(start)):
            if start[other] - start[first] >= window:
                break
            if group[other] < 0 and abs(end[other] - end[first]) <= window:
                group[other] = count
        count += 1
    return group


def tokenize(song: Song, track: Track) -> TokenStream:
    """The one token function: every later step reads tokens made here."""
    notes = track.notes
    if len(notes) == 0:
        empty = np.zeros(0, np.int64)
        return TokenStream([], empty, empty, empty, empty, empty)
    spans = chord_spans(song, track)
    masks = np.zeros((len(spans.onsets_twelfths), 128), dtype=bool)
    masks[spans.group, notes["pitch"]] = True
    packed = np.packbits(masks, axis=1)  # 16 bytes per chord: one key per distinct chord
    keys, inverse = np.unique(packed.view("V16").ravel(), return_inverse=True)
    names = [_chord_name(key.tobytes()) for key in keys]
    duration = np.maximum(spans.ends_twelfths - spans.onsets_twelfths, 1)
    delta = np.diff(spans.onsets_twelfths, prepend=0)
    positions, bars = bar_positions(spans.onsets_twelfths, song_meters(song))
    return TokenStream(names, inverse.ravel(), delta, duration, positions, bars)


_CHORD_NAMES: dict[bytes, str] = {}  # packed pitch set → name; chords repeat across tracks


def _chord_name(key: bytes) -> str:
    name = _CHORD_NAMES.get(key)
    if name is None:
        pitches = np.flatnonzero(np.unpackbits(np.frombuffer(key, np.uint8)))
        name = _CHORD_NAMES[key] = " ".join(PITCH_NAMES[p] for p in pitches)
    return name


def token_pitches(token: str) -> list[int]:
    """'E2 B2 E3' → [40, 47, 52]."""
    return [PITCH_NAMES.index(name) for name in token.split(" ")]
