"""The tab of one track of a MIDI file: the path shared by `deeprock tab` and the One file tab.

    song = midi.load("song.mid")
    result = track_tab(song, pick_track(song, None), TUNINGS["drop-d"])  # first guitar track

Notes come from the project's one loader and are grouped into chords by tokens.chord_spans,
so a chord here is a chord token there; every note of the track is fretted once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deeprock.music import guitar, midi, tokens
from deeprock.tab.tab import Fingering, fret_chords


@dataclass
class TrackTab:
    track: midi.Track
    tuning: tuple[int, ...]
    capo: int
    onsets_quarters: list[float]  # per chord, on the tokens' grid
    durations_quarters: list[float]  # per chord: its longest note
    fingering: Fingering
    seconds: float

    def notes(self) -> list[dict]:
        """Every note once, in onset order, chords lowest pitch first (the --json contract)."""
        return [{"onset_quarters": onset, "pitch": pitch, "string": string, "fret": fret}
                for onset, pitches, positions in zip(self.onsets_quarters,
                                                     self.fingering.pitches,
                                                     self.fingering.positions, strict=True)
                for pitch, (string, fret) in zip(pitches, positions, strict=True)]


def pick_track(song: midi.Song, spec: str | None) -> midi.Track:
    """The track named 'INDEX:CHANNEL' (channel 0-15, as `inspect` prints), or the first guitar
    track as `inspect` decides; ValueError naming the file otherwise."""
    if spec is None:
        for track in song.tracks:
            if not track.is_drum and guitar.decide(song, track).guitar:
                return track
        raise ValueError(f"{song.path} has no guitar track; pick one with --track INDEX:CHANNEL "
                         f"({_listing(song)})")
    try:
        index, channel = (int(part) for part in spec.split(":"))
    except ValueError:
        raise ValueError(f"--track {spec!r} is not INDEX:CHANNEL, like 1:0") from None
    for track in song.tracks:
        if (track.index, track.channel) == (index, channel):
            return track
    raise ValueError(f"{song.path} has no track {spec} ({_listing(song)})")


def _listing(song: midi.Song) -> str:
    found = [f"{t.index}:{t.channel}" for t in song.tracks]
    return "tracks: " + ", ".join(found) if found else "it has no tracks with notes"


def chords_of(song: midi.Song, track: midi.Track) -> tuple[list[list[int]], list[float],
                                                            list[float]]:
    """Pitches, onset and duration (quarters) of each chord, as the tokens group them.

    Chords the tokens keep apart but that start on the same grid point (a long note struck
    with a short chord) are fretted as one: the hand plays them at once, on distinct strings.
    """
    notes = track.notes
    spans = tokens.chord_spans(song, track)
    # token chords start in order, so equal onsets are neighbours: renumber by onset
    chord_of_group = np.cumsum(np.diff(spans.onsets_twelfths, prepend=-1) != 0) - 1
    chord = chord_of_group[spans.group]
    count = int(chord_of_group[-1]) + 1
    chord_onsets = np.zeros(count, np.int64)
    chord_onsets[chord_of_group] = spans.onsets_twelfths
    chord_ends = np.zeros(count, np.int64)
    np.maximum.at(chord_ends, chord_of_group, spans.ends_twelfths)
    order = np.argsort(chord, kind="stable")
    bounds = np.searchsorted(chord[order], np.arange(count + 1))
    pitches = [sorted(notes["pitch"][order[a:b]].tolist()) for a, b in itertools.pairwise(bounds)]
    per_quarter = tokens.TWELFTHS_PER_QUARTER
    durations = np.maximum(chord_ends - chord_onsets, 1) / per_quarter
    return pitches, (chord_onsets / per_quarter).tolist(), durations.tolist()


def track_tab(song: midi.Song, track: midi.Track, tuning: Sequence[int], capo: int = 0,
              strict: bool = False) -> TrackTab:
    """Fret a pitched track; ValueError naming the file for a drum track or one without notes."""
    where = f"track {track.index}:{track.channel} of {song.path}"
    if track.is_drum:
        raise ValueError(f"{where} is a drum track (channel 10): its notes are not pitches")
    if len(track.notes) == 0:
        raise ValueError(f"{where} has no notes")
    started = time.perf_counter()
    chords, onsets, durations = chords_of(song, track)
    try:
        fingering = fret_chords(chords, tuning, capo, strict, onsets)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return TrackTab(track, tuple(tuning), capo, onsets, durations, fingering,
                    time.perf_counter() - started)
