"""Fret choice: which string and fret plays each note, for generated riffs and dataset tracks.

    fingering = fret_chords([[40, 47, 52], [43]], TUNINGS["drop-d"])
    fingering.positions  # [[(6, 0), (5, 2), (4, 2)], [(6, 5)]]: (string, fret), 1 = highest

Dynamic programming over (fingering of the onset, hand position): every onset's candidate
fingerings put at most one note on a string with a span of at most MAX_SPAN_FRETS fretted frets;
the path through them minimises the playing difficulty of difficulty.py (stretch, skipped inner
strings, hand movement, string jumps) plus a slight pull towards the nut, so open strings and low
positions win ties. A skipped inner string (a D power chord as D3:12 B3:10 E4:10) cannot be
strummed: D3:12 G3:14 B3:15 or G3:7 B3:10 E4:10 is chosen instead.
No library does this: tuttut pins numpy 1.23 (we run numpy 2) and networkx; mingus's
`find_fingering` ranks each chord alone, with no hand movement across the phrase; tabsynth's
Viterbi knows six strings only, chords only from its templates, and drops unplaceable events.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deeprock.music.tokens import PITCH_NAMES
from deeprock.tab import difficulty as playability

TUNINGS: dict[str, tuple[int, ...]] = {
    "standard": (40, 45, 50, 55, 59, 64),
    "drop-d": (38, 45, 50, 55, 59, 64),
    "seven": (35, 40, 45, 50, 55, 59, 64),
    "bass": (28, 33, 38, 43),
}
MAX_FRET = 22
MAX_CAPO = 12
MAX_SPAN_FRETS = 4  # highest minus lowest fretted fret within one chord
MAX_CANDIDATES = 48  # per onset: the DP step costs candidates² x hand positions
HEIGHT_WEIGHT = 0.02  # per fret of hand position: low positions win ties


@dataclass
class Fingering:
    positions: list[list[tuple[int, int]]]  # per onset, (string, fret) per pitch, lowest first
    pitches: list[list[int]]  # per onset, the pitches played (after octave transposition)
    out_of_range: int  # notes moved by octaves into the tuning's range
    difficulty: float
    shared_strings: int = 0  # notes that had to share a string (more notes than strings)


def parse_tuning(text: str) -> tuple[int, ...]:
    """A tuning's name or its open strings from the lowest, 'E2,A2,D3,G3,B3,E4' or MIDI numbers."""
    name = text.strip().lower()
    if name in TUNINGS:
        return TUNINGS[name]
    items = [item.strip() for item in text.replace(" ", ",").split(",") if item.strip()]
    pitches = tuple(_pitch(item) for item in items)
    if not 4 <= len(pitches) <= 8:
        raise ValueError(f"tuning {text!r} has {len(pitches)} strings; give 4 to 8, lowest first, "
                         f"or one of {', '.join(TUNINGS)}")
    if any(high <= low for low, high in itertools.pairwise(pitches)):
        raise ValueError(f"tuning {text!r} must go from the lowest string up, each higher")
    return pitches


def _pitch(item: str) -> int:
    """'E2', 'F#3', 'Bb1', 'E-2' (music21's flat) or a MIDI number."""
    if item.isdigit() and int(item) <= 127:
        return int(item)
    match = _PITCH_TEXT.fullmatch(item)
    if match is None:
        raise ValueError(f"cannot read {item!r} as a string's pitch (like E2, F#3, Bb1 or 40)")
    letter, accidental, octave = match.groups()
    pitch = (int(octave) + 1) * 12 + _LETTERS[letter.upper()] + _ACCIDENTALS[accidental]
    if not 0 <= pitch <= 127:
        raise ValueError(f"string pitch {item!r} is outside MIDI's range")
    return pitch


_PITCH_TEXT = re.compile(r"([A-Ga-g])(#|b|-|)(-?\d)")
_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"#": 1, "b": -1, "-": -1, "": 0}


def fret_chords(chords: Sequence[Sequence[int]], tuning: Sequence[int] = TUNINGS["standard"],
                capo: int = 0, strict: bool = False,
                onsets_quarters: Sequence[float] | None = None) -> Fingering:
    """The easiest path through the phrase (see the module docstring); chords as MIDI pitches."""
    frets = _Fretboard(tuning, capo)
    pitches, moved = frets.fit(chords, strict, onsets_quarters)
    options = [frets.options(chord, MAX_SPAN_FRETS) for chord in pitches]
    picks = _best_path(options)
    positions = [frets.positions(option, pick) for option, pick in zip(options, picks, strict=True)]
    return _fingering(positions, pitches, moved)


def lowest_fret(chords: Sequence[Sequence[int]], tuning: Sequence[int] = TUNINGS["standard"],
                capo: int = 0, strict: bool = False,
                onsets_quarters: Sequence[float] | None = None) -> Fingering:
    """The baseline rule: each note on the string giving the lowest fret, chords on distinct
    strings (the least total of frets), whatever the span and the hand's path."""
    frets = _Fretboard(tuning, capo)
    pitches, moved = frets.fit(chords, strict, onsets_quarters)
    positions = []
    for chord in pitches:
        option = frets.options(chord, None)
        best = int(np.lexsort((option.frets.max(axis=1), option.frets.sum(axis=1)))[0])
        positions.append(frets.positions(option, best))
    return _fingering(positions, pitches, moved)


def _fingering(positions: list, pitches: list, moved: int) -> Fingering:
    shared = sum(len(chord) - len({string for string, _ in chord}) for chord in positions)
    return Fingering(positions, pitches, moved, playability.difficulty(positions), shared)


@dataclass(frozen=True)
class _Options:
    """The candidate fingerings of one onset: string index (0 = lowest) and fret per pitch."""

    strings: np.ndarray  # (candidates, notes)
    frets: np.ndarray  # (candidates, notes)
    shape: tuple[np.ndarray, ...]  # what the DP needs, see _shape; options are cached



class _Fretboard:
    def __init__(self, tuning: Sequence[int], capo: int) -> None:
        if not 0 <= capo <= MAX_CAPO:
            raise ValueError(f"capo {capo} is beyond fret {MAX_CAPO} (or negative)")
        self.open_pitches = tuple(int(p) + capo for p in tuning)
        self.max_fret = MAX_FRET - capo
        self.lowest = self.open_pitches[0]
        self.highest = self.open_pitches[-1] + self.max_fret

    def fit(self, chords: Sequence[Sequence[int]], strict: bool,
            onsets_quarters: Sequence[float] | None) -> tuple[list[list[int]], int]:
        """Pitches sorted, moved by octaves into range (counted), or refused when strict."""
        fitted, moved = [], 0
        for number, chord in enumerate(chords):
            notes = []
            for pitch in sorted(int(p) for p in chord):
                if self.lowest <= pitch <= self.highest:
                    notes.append(pitch)
                    continue
                if strict:
                    where = (f"at quarter {onsets_quarters[number]:g}" if onsets_quarters
                             is not None else f"at onset {number}")
                    raise ValueError(f"note {PITCH_NAMES[pitch]} {where} is outside the "
                                     f"tuning's range {PITCH_NAMES[self.lowest]}-"
                                     f"{PITCH_NAMES[self.highest]}")
                while pitch < self.lowest:
                    pitch += 12
                while pitch > self.highest:
                    pitch -= 12
                notes.append(pitch)
                moved += 1
            fitted.append(sorted(notes))
        return fitted, moved

    def options(self, chord: Sequence[int], max_span: int | None) -> _Options:
        return _options(tuple(chord), self.open_pitches, self.max_fret, max_span)

    def positions(self, option: _Options, pick: int) -> list[tuple[int, int]]:
        count = len(self.open_pitches)
        pairs = zip(option.strings[pick], option.frets[pick], strict=True)
        return [(count - int(string), int(fret)) for string, fret in pairs]


@functools.lru_cache(maxsize=4096)
def _options(chord: tuple[int, ...], open_pitches: tuple[int, ...], max_fret: int,
             max_span: int | None) -> _Options:
    """Every assignment of the chord's pitches to distinct strings (within the span), the most
    compact first; relaxed step by step when none exists, so that every note is placed."""
    found: list[tuple[int, ...]] = []
    for span in (max_span, None) if max_span is not None else (None,):
        _assign(chord, open_pitches, max_fret, span, (), found)
        if found:
            break
    if not found:
        found.append(_crowded(chord, open_pitches, max_fret))
    strings = np.array(found, dtype=np.int64).reshape(len(found), len(chord))
    frets = np.array(chord, dtype=np.int64)[None, :] - np.array(open_pitches)[strings]
    chord_cost = _shape(strings, frets)[2]
    order = np.lexsort((frets.sum(axis=1), chord_cost))[:MAX_CANDIDATES]
    strings, frets = strings[order], frets[order]
    return _Options(strings, frets, _shape(strings, frets))


def _assign(chord: tuple[int, ...], open_pitches: tuple[int, ...], max_fret: int,
            max_span: int | None, taken: tuple[int, ...], found: list) -> None:
    """Depth-first over strings, one pitch at a time, pruning spans that are already too wide."""
    if len(taken) == len(chord):
        found.append(taken)
        return
    pitch = chord[len(taken)]
    for string, open_pitch in enumerate(open_pitches):
        fret = pitch - open_pitch
        if string in taken or not 0 <= fret <= max_fret:
            continue
        if max_span is not None and fret > 0:
            fretted = [chord[i] - open_pitches[s] for i, s in enumerate(taken)
                       if chord[i] > open_pitches[s]] + [fret]
            if max(fretted) - min(fretted) > max_span:
                continue
        _assign(chord, open_pitches, max_fret, max_span, (*taken, string), found)


def _crowded(chord: tuple[int, ...], open_pitches: tuple[int, ...], max_fret: int) -> tuple:
    """More notes than free strings: each note on its lowest-fret string, free strings first."""
    taken: list[int] = []
    for pitch in chord:
        playable = [s for s, p in enumerate(open_pitches) if 0 <= pitch - p <= max_fret]
        free = [s for s in playable if s not in taken] or playable
        taken.append(max(free, key=lambda s: open_pitches[s]))
    return tuple(taken)


def _best_path(options: list[_Options]) -> list[int]:
    """Viterbi over states (candidate, hand position); returns the candidate of each onset."""
    if not options:
        return []
    hands = MAX_FRET + 1  # the first finger's fret: 0..MAX_FRET
    cost, previous_mean = None, None
    back: list[tuple[np.ndarray, np.ndarray]] = []
    for option in options:
        low, high, chord_cost, mean_string = option.shape
        if cost is None:
            start = np.where(low > 0, low, 0)
            cost = np.full((len(low), hands), np.inf)
            cost[np.arange(len(low)), start] = chord_cost + HEIGHT_WEIGHT * start
            back.append((np.zeros(0), np.zeros(0)))
            previous_mean = mean_string
            continue
        jump = np.abs(previous_mean[:, None] - mean_string[None, :])  # (prev, cand)
        through = cost[:, :, None] + playability.STRING_JUMP_WEIGHT * jump[:, None, :]
        best_prev = through.argmin(axis=0)  # (hand, cand)
        best = through.min(axis=0)
        hand = np.arange(hands)[:, None]
        reach = high - (playability.HAND_SPAN_FRETS - 1)
        target = np.where(low > 0, np.minimum(low, np.maximum(hand, reach)), hand)
        arrive = (best + playability.MOVE_WEIGHT * np.abs(target - hand)
                  + chord_cost + HEIGHT_WEIGHT * target)
        cost, from_hand = _arrive(arrive, target, hands)
        back.append((best_prev, from_hand))
        previous_mean = mean_string
    return _trace(cost, back)


def _shape(strings: np.ndarray, frets: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per candidate: lowest and highest fretted fret (0 when all open), the chord's own cost
    (stretch and skipped inner strings, weighted as difficulty.py does), mean string."""
    fretted = frets > 0
    low = np.where(fretted, frets, 99).min(axis=1)
    low = np.where(fretted.any(axis=1), low, 0)
    high = frets.max(axis=1)
    ordered = np.sort(strings, axis=1)
    distinct = 1 + (np.diff(ordered, axis=1) != 0).sum(axis=1)
    skipped = ordered[:, -1] - ordered[:, 0] + 1 - distinct
    chord_cost = (playability.STRETCH_WEIGHT * np.where(low > 0, high - low, 0)
                  + playability.SKIP_WEIGHT * skipped)
    mean_string = -strings.mean(axis=1)  # the GP number's order, up to an offset
    return low, high, chord_cost, mean_string


def _arrive(arrive: np.ndarray, target: np.ndarray, hands: int) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest way into each (candidate, hand) state, and the hand it came from."""
    candidates = arrive.shape[1]
    flat_target = (np.arange(candidates)[None, :] * hands + target).ravel()
    values = arrive.ravel()
    source = np.repeat(np.arange(hands), candidates)
    order = np.lexsort((values, flat_target))
    sorted_target = flat_target[order]
    first = np.concatenate(([True], sorted_target[1:] != sorted_target[:-1]))
    chosen = order[first]
    cost = np.full(candidates * hands, np.inf)
    from_hand = np.zeros(candidates * hands, np.int64)
    cost[flat_target[chosen]] = values[chosen]
    from_hand[flat_target[chosen]] = source[chosen]
    return cost.reshape(candidates, hands), from_hand.reshape(candidates, hands)


def _trace(cost: np.ndarray, back: list[tuple[np.ndarray, np.ndarray]]) -> list[int]:
    candidate, hand = np.unravel_index(int(cost.argmin()), cost.shape)
    picks = [int(candidate)]
    for best_prev, from_hand in reversed(back[1:]):
        hand = from_hand[candidate, hand]
        candidate = best_prev[hand, candidate]
        picks.append(int(candidate))
    return picks[::-1]
