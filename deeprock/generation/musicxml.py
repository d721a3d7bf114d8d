"""A riff → MusicXML through music21, so it opens as notation in MuseScore and friends.

    data = riff_musicxml(riff, program=30, tempo_bpm=120, meter=(3, 4))

music21's MusicXML export crashes on complex durations (5/12 of a quarter has no single note
value), so each onset's chord is cut at the next onset and its duration, and the rest after it,
are built from single note values of the grid (sixteenths and eighth triplets and their
multiples). Tokens struck at one onset become one chord; music21 cuts the measures of the meter
(tying what crosses a bar line). music21 is imported inside.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise

from deeprock.generation.riff import Riff
from deeprock.music.tokens import TWELFTHS_PER_QUARTER

# durations in twelfths that are one note value (maybe dotted or a triplet), largest first
SIMPLE_TWELFTHS = (48, 36, 24, 18, 16, 12, 9, 8, 6, 4, 3, 2, 1)


def split_simple(twelfths: int) -> list[int]:
    """A length as a sum of single note values, largest first (greedy; 1 is always there)."""
    parts = []
    for value in SIMPLE_TWELFTHS:
        while twelfths >= value:
            parts.append(value)
            twelfths -= value
    return parts


def snap_duration(twelfths: int) -> int:
    """The largest single note value not longer than the given length."""
    return next(value for value in SIMPLE_TWELFTHS if value <= max(twelfths, 1))


def riff_events(riff: Riff) -> list[tuple[list[int], int]]:
    """(pitches, twelfths) in order, [] for a rest: monophonic, gap-free, on the grid."""
    onsets = riff.onsets_twelfths()
    by_onset: dict[int, tuple[set[int], int]] = {}
    for chord, onset, duration in zip(riff.chords(), onsets, riff.duration_twelfths,
                                      strict=True):
        pitches, longest = by_onset.get(int(onset), (set(), 0))
        by_onset[int(onset)] = (pitches | set(chord), max(longest, int(duration)))
    starts = sorted(by_onset)
    events: list[tuple[list[int], int]] = [([], part) for part in split_simple(starts[0])] \
        if starts else []
    for start, following in pairwise([*starts, None]):
        pitches, duration = by_onset[start]
        room = following - start if following is not None else duration
        sounding = snap_duration(min(duration, room))
        events.append((sorted(pitches), sounding))
        events.extend(([], part) for part in split_simple(room - sounding))
    return events


def riff_musicxml(riff: Riff, program: int = 30, tempo_bpm: float = 120,
                  meter: tuple[int, int] = (4, 4)) -> bytes:
    """The riff as a MusicXML document (bytes) in `meter` for an electric guitar of `program`."""
    from music21 import chord, instrument, note, stream, tempo
    from music21.meter import TimeSignature
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    guitar = instrument.ElectricGuitar()
    guitar.midiProgram = program  # music21's ElectricGuitar is 26 unless told
    part = stream.Part([guitar, TimeSignature(f"{meter[0]}/{meter[1]}"),
                        tempo.MetronomeMark(number=tempo_bpm)])
    for pitches, twelfths in riff_events(riff):
        length = Fraction(twelfths, TWELFTHS_PER_QUARTER)
        if not pitches:
            part.append(note.Rest(quarterLength=length))
        elif len(pitches) == 1:
            part.append(note.Note(pitches[0], quarterLength=length))
        else:
            part.append(chord.Chord(pitches, quarterLength=length))
    score = stream.Score([part])
    return GeneralObjectExporter(score).parse()
