"""A fingering as a Guitar Pro 5 file (PyGuitarPro), so it opens as tab in Guitar Pro,
TuxGuitar or MuseScore with our strings and frets.

    write_gp5("riff.gp5", onsets_quarters, durations_quarters, fingering, TUNINGS["standard"])

Onsets and durations are snapped to twelfths of a quarter (sixteenths and eighth triplets, the
tokens' grid); each chord lasts until its end, the next onset or the bar line, whichever comes
first, written as the longest Guitar Pro durations that fit, and rests fill the gaps. Bars of
`meter` (4/4 unless told), every measure header saying it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np

from deeprock.atomic import write_atomic
from deeprock.music.tokens import meter_bar_twelfths, quantize_twelfths
from deeprock.tab.tab import Fingering

# (length in twelfths, Guitar Pro value, dotted, triplet), longest first: every whole number of
# twelfths is a sum of these (1 twelfth is a 32nd triplet)
GP_DURATIONS = ((48, 1, False, False), (36, 2, True, False), (24, 2, False, False),
                (18, 4, True, False), (12, 4, False, False), (9, 8, True, False),
                (8, 4, False, True), (6, 8, False, False), (4, 8, False, True),
                (3, 16, False, False), (2, 16, False, True), (1, 32, False, True))
DISTORTION_GUITAR = 30


def write_gp5(path: str | os.PathLike, onsets_quarters: Sequence[float],
              durations_quarters: Sequence[float], fingering: Fingering, tuning: Sequence[int],
              tempo_bpm: float = 120, title: str = "DeepRock riff", capo: int = 0,
              program: int = DISTORTION_GUITAR, meter: tuple[int, int] = (4, 4)) -> None:
    """Write the file atomically; frets count from the capo, as Guitar Pro shows them."""
    write_atomic(path, gp5_bytes(onsets_quarters, durations_quarters, fingering, tuning,
                                 tempo_bpm, title, capo, program, meter))


def gp5_bytes(onsets_quarters: Sequence[float], durations_quarters: Sequence[float],
              fingering: Fingering, tuning: Sequence[int], tempo_bpm: float = 120,
              title: str = "DeepRock riff", capo: int = 0,
              program: int = DISTORTION_GUITAR, meter: tuple[int, int] = (4, 4)) -> bytes:
    import guitarpro

    if not len(onsets_quarters) == len(durations_quarters) == len(fingering.positions):
        raise ValueError(f"{len(onsets_quarters)} onsets, {len(durations_quarters)} durations "
                         f"and {len(fingering.positions)} chords: give one of each per chord")
    song = guitarpro.models.Song(title=title, tempo=round(tempo_bpm))
    track = song.tracks[0]
    track.name, track.offset, track.fretCount = "Guitar", capo, 24
    track.channel.instrument = program
    strings = len(tuning)
    track.strings = [guitarpro.models.GuitarString(number, int(tuning[strings - number]))
                     for number in range(1, strings + 1)]
    bar_twelfths = meter_bar_twelfths(*meter)
    bars = _bars(onsets_quarters, durations_quarters, fingering.positions, bar_twelfths)
    for _ in range(len(bars) - 1):
        song.newMeasure()
    for header in song.measureHeaders:
        header.timeSignature = guitarpro.models.TimeSignature(
            meter[0], guitarpro.models.Duration(value=meter[1]))
    for measure, events in zip(track.measures, bars, strict=True):
        _fill(measure, events, bar_twelfths)
    buffer = io.BytesIO()
    guitarpro.write(song, buffer, version=(5, 1, 0))
    return buffer.getvalue()


def _bars(onsets_quarters: Sequence[float], durations_quarters: Sequence[float],
          positions: list[list[tuple[int, int]]], bar_twelfths: int
          ) -> list[list[tuple[int, int, list]]]:
    """Per bar: (start, length, chord) in twelfths from the bar's start; rests between."""
    onsets = quantize_twelfths(np.asarray(onsets_quarters, dtype=np.float64))
    ends = onsets + np.maximum(quantize_twelfths(np.asarray(durations_quarters, np.float64)), 1)
    order = np.argsort(onsets, kind="stable")
    ordered = onsets[order]
    later = np.searchsorted(ordered, ordered, side="right")  # the next distinct onset's rank
    count = int(onsets.max()) // bar_twelfths + 1 if len(onsets) else 1
    bars: list[list[tuple[int, int, list]]] = [[] for _ in range(count)]
    for rank, index in enumerate(order):
        onset = int(onsets[index])
        bar, start = divmod(onset, bar_twelfths)
        if bars[bar] and bars[bar][-1][0] == start:  # two chords snapped together: one beat
            bars[bar][-1][2].extend(positions[index])
            continue
        following = int(ordered[later[rank]]) if later[rank] < len(order) else ends[index]
        end = min(int(ends[index]), following, (bar + 1) * bar_twelfths)
        bars[bar].append((start, max(end - onset, 1), list(positions[index])))
    return bars


def _fill(measure, events: list[tuple[int, int, list]], bar_twelfths: int) -> None:
    """Beats of one bar: each chord as one beat of the longest duration that fits, rests between."""
    import guitarpro

    voice = measure.voices[0]
    now = 0
    for start, length, chord in events:
        if start < now:  # a chord snapped into the previous beat's tail
            continue
        _rests(voice, start - now)
        value = next(d for d in GP_DURATIONS if d[0] <= length)
        beat = guitarpro.models.Beat(voice, duration=_duration(value),
                                     status=guitarpro.models.BeatStatus.normal)
        taken: set[int] = set()
        for string, fret in chord:
            if string in taken:  # Guitar Pro holds one note per string and beat
                continue
            taken.add(string)
            beat.notes.append(guitarpro.models.Note(beat, value=fret, string=string,
                                                    type=guitarpro.models.NoteType.normal))
        voice.beats.append(beat)
        now = start + value[0]
    _rests(voice, bar_twelfths - now)


def _rests(voice, length_twelfths: int) -> None:
    import guitarpro

    while length_twelfths > 0:
        value = next(d for d in GP_DURATIONS if d[0] <= length_twelfths)
        voice.beats.append(guitarpro.models.Beat(voice, duration=_duration(value),
                                                 status=guitarpro.models.BeatStatus.rest))
        length_twelfths -= value[0]


def _duration(value: tuple[int, int, bool, bool]):
    import guitarpro

    tuplet = guitarpro.models.Tuplet(3, 2) if value[3] else guitarpro.models.Tuplet(1, 1)
    return guitarpro.models.Duration(value=value[1], isDotted=value[2], tuplet=tuplet)
