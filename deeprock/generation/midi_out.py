"""A riff → a Standard MIDI file a learner can open, hear and play along with.

    data = riff_midi(riff, program=30, tempo_bpm=120, primer="marker", backing=True)
    data = riff_midi(riff, practice=Practice(tempo_percent=70, count_in=True, click=True))
    data = riff_midi(riff, meter=(3, 4))   # bars of three quarters from the riff's first onset
    write_riff_midi("data/riffs/NAME/riff.mid", riff)

Track 0 holds tempo, the meter (4/4 unless told; bars count from the riff's first onset) and the
markers; the guitar plays on channel 1 (index 0). The primer is marked with a "primer" /
"generated" marker pair, played on a track of its own, or left out (the post's outputs silently
included it). Backing, off by default: drums on channel 10 (index 9) and a bass doubling the
riff's lowest notes, each on its own track. Practice playback (practice.py): a slower tempo, a
count-in bar and a click on each beat of the meter on a track of their own (channel 10 too);
every track ends where the riff does, or on the bar line after it when drums or a click fill
bars.
"""

from __future__ import annotations

import io
import os
from itertools import pairwise

import mido

from deeprock.atomic import write_atomic
from deeprock.generation.practice import CLICK_CHANNEL, PLAIN, Practice, click_notes
from deeprock.generation.riff import Riff
from deeprock.music.tokens import TWELFTHS_PER_BAR, TWELFTHS_PER_QUARTER, meter_bar_twelfths

TICKS_PER_BEAT = 480
TICKS_PER_TWELFTH = TICKS_PER_BEAT // TWELFTHS_PER_QUARTER
GUITAR_PROGRAMS = {30: "distortion guitar", 29: "overdriven guitar", 27: "clean guitar",
                   25: "acoustic guitar"}
PRIMER_MODES = ("marker", "track", "omit")
BASS_PROGRAM = 33  # electric bass (finger)
BASS_RANGE = (28, 52)  # E1..E3: where a bass doubles a guitar riff
GUITAR_CHANNEL, PRIMER_CHANNEL, BASS_CHANNEL, DRUM_CHANNEL = 0, 1, 2, 9
KICK, SNARE, CLOSED_HAT, CRASH = 36, 38, 42, 49
# velocity by where the onset falls: the bar's downbeat, another beat, off the beat
ACCENT_VELOCITIES = (112, 100, 84)

Note = tuple[int, int, int, int]  # (onset tick, duration ticks, pitch, velocity)


def accent_velocity(onset_twelfths: int, bar_twelfths: int = TWELFTHS_PER_BAR) -> int:
    """Downbeats loudest, beats louder than what falls between them."""
    if onset_twelfths % bar_twelfths == 0:
        return ACCENT_VELOCITIES[0]
    if onset_twelfths % TWELFTHS_PER_QUARTER == 0:
        return ACCENT_VELOCITIES[1]
    return ACCENT_VELOCITIES[2]


def riff_notes(riff: Riff, shift_twelfths: int = 0, bar_twelfths: int = TWELFTHS_PER_BAR
               ) -> list[Note]:
    """Every pitch of every token, accented by its place in the bar, times in ticks."""
    notes = []
    for chord, onset, duration in zip(riff.chords(), riff.onsets_twelfths() - shift_twelfths,
                                      riff.duration_twelfths, strict=True):
        velocity = accent_velocity(int(onset), bar_twelfths)
        notes.extend((int(onset) * TICKS_PER_TWELFTH, int(duration) * TICKS_PER_TWELFTH, pitch,
                      velocity) for pitch in chord)
    return notes


def bass_notes(riff: Riff, shift_twelfths: int = 0, bar_twelfths: int = TWELFTHS_PER_BAR
               ) -> list[Note]:
    """The lowest note of each token, moved by octaves into the bass's range, a little softer."""
    lowest = _lowest_per_onset(riff_notes(riff, shift_twelfths, bar_twelfths))
    notes = []
    # each bass note holds until the next one, at most a half note: the bass holds the root
    for (onset, duration, pitch, velocity), following in pairwise([*lowest, None]):
        while pitch > BASS_RANGE[1]:
            pitch -= 12
        while pitch < BASS_RANGE[0]:
            pitch += 12
        end = following[0] if following else onset + max(duration, TICKS_PER_BEAT)
        notes.append((onset, min(end - onset, 2 * TICKS_PER_BEAT), pitch, velocity - 10))
    return notes


def _lowest_per_onset(notes: list[Note]) -> list[Note]:
    lowest: dict[int, Note] = {}
    for note in notes:
        if note[0] not in lowest or note[2] < lowest[note[0]][2]:
            lowest[note[0]] = note
    return [lowest[onset] for onset in sorted(lowest)]


def drum_notes(start_tick: int, end_tick: int, bar_twelfths: int = TWELFTHS_PER_BAR
               ) -> list[Note]:
    """A plain rock beat over every bar from start_tick: kick and snare by turns on each
    quarter of the bar (1 and 3, 2 and 4 in 4/4), eighth hi-hats, a crash on the first
    downbeat."""
    bar_ticks = bar_twelfths * TICKS_PER_TWELFTH
    bars = max(1, -(-(end_tick - start_tick) // bar_ticks))
    eighth = TICKS_PER_BEAT // 2
    notes: list[Note] = [(start_tick, eighth, CRASH, 110)]
    for bar in range(bars):
        start = start_tick + bar * bar_ticks
        for beat, tick in enumerate(range(0, bar_ticks, TICKS_PER_BEAT)):
            notes.append((start + tick, eighth, (KICK, SNARE)[beat % 2], 105))
        notes.extend((start + tick, eighth // 2, CLOSED_HAT, 80 if e % 2 else 95)
                     for e, tick in enumerate(range(0, bar_ticks, eighth)))
    return notes


def note_track(name: str, channel: int, program: int | None, notes: list[Note],
               end_tick: int | None = None) -> mido.MidiTrack:
    """Notes → a track with absolute times turned into deltas, cut at end_tick (where its end
    of track goes, so that every track ends where the riff does).

    A pitch struck again while it still sounds is cut at the new onset: MIDI cannot hold two
    notes of one pitch on one channel, and an off after the new on would silence the new one.
    """
    if end_tick is not None:
        notes = [(onset, min(duration, end_tick - onset), pitch, velocity)
                 for onset, duration, pitch, velocity in notes if onset < end_tick]
    notes = _cut_overlaps(notes)
    events = []  # (tick, order, message): offs before ons at one tick
    for onset, duration, pitch, velocity in notes:
        events.append((onset, 1, mido.Message("note_on", channel=channel, note=pitch,
                                              velocity=velocity)))
        events.append((onset + duration, 0, mido.Message("note_off", channel=channel,
                                                         note=pitch, velocity=64)))
    events.sort(key=lambda event: (event[0], event[1]))
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
    if program is not None:
        track.append(mido.Message("program_change", channel=channel, program=program))
    _append_timed(track, events, end_tick)
    return track


def _cut_overlaps(notes: list[Note]) -> list[Note]:
    ordered = sorted(notes, key=lambda note: (note[2], note[0]))
    cut = []
    for note, following in pairwise([*ordered, None]):
        onset, duration, pitch, velocity = note
        if following is not None and following[2] == pitch:
            duration = min(duration, following[0] - onset)
        if duration > 0:
            cut.append((onset, duration, pitch, velocity))
    return cut


def _append_timed(track: mido.MidiTrack, events: list[tuple[int, int, mido.Message]],
                  end_tick: int | None = None) -> None:
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, (end_tick or 0) - now)))


def conductor_track(tempo_bpm: float, markers: list[tuple[int, str]],
                    end_tick: int | None = None, meter: tuple[int, int] = (4, 4)
                    ) -> mido.MidiTrack:
    """Tempo, the meter and the (tick, text) markers."""
    # clocks_per_click: the metronome on each beat of the meter (24 MIDI clocks a quarter)
    track = mido.MidiTrack([
        mido.MetaMessage("track_name", name="DeepRock riff"),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm)),
        mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1],
                         clocks_per_click=max(96 // meter[1], 1)),
    ])
    _append_timed(track, [(tick, 0, mido.MetaMessage("marker", text=text))
                          for tick, text in markers], end_tick)
    return track


def riff_midi(riff: Riff, program: int = 30, tempo_bpm: float = 120, primer: str = "marker",
              backing: bool = False, practice: Practice = PLAIN,
              meter: tuple[int, int] = (4, 4)) -> bytes:
    """The riff as a type-1 MIDI file (bytes); see the module docstring for the layout."""
    _check_options(program, practice.playback_bpm(tempo_bpm), primer)
    bar = meter_bar_twelfths(*meter)
    played, parts, markers, shift = _primer_layout(riff, primer, bar)
    lead_in = bar if practice.count_in else 0
    shift -= lead_in  # a count-in bar moves everything one bar later
    end = played.end_twelfths() - shift if len(played) else lead_in
    if backing or practice.click:  # parts that fill whole bars end the file on a bar line
        end = -(-end // bar) * bar
    end_tick = end * TICKS_PER_TWELFTH
    tracks = [note_track(name, channel, program, riff_notes(part, shift, bar), end_tick)
              for name, channel, part in parts]
    if backing and len(played):
        tracks.append(note_track("Bass", BASS_CHANNEL, BASS_PROGRAM,
                                 bass_notes(played, shift, bar), end_tick))
        tracks.append(note_track("Drums", DRUM_CHANNEL, None,
                                 drum_notes(lead_in * TICKS_PER_TWELFTH, end_tick, bar),
                                 end_tick))
    if practice.click or practice.count_in:
        clicks = click_notes(0, (end if practice.click else lead_in) * TICKS_PER_TWELFTH,
                             TICKS_PER_BEAT * 4 // meter[1], meter[0])
        tracks.append(note_track("Click", CLICK_CHANNEL, None, clicks, end_tick))
    ticks = [((onset + lead_in) * TICKS_PER_TWELFTH, text) for onset, text in markers]
    if practice.count_in:
        ticks.insert(0, (0, "count-in"))
    song = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    song.tracks.extend([conductor_track(practice.playback_bpm(tempo_bpm), ticks, end_tick, meter),
                        *tracks])
    buffer = io.BytesIO()
    song.save(file=buffer)
    return buffer.getvalue()


def _primer_layout(riff: Riff, primer: str, bar_twelfths: int
                   ) -> tuple[Riff, list, list[tuple[int, str]], int]:
    """What plays, the (name, channel, riff) parts, the markers in twelfths, the shift."""
    generated_onset = riff.generated_onset_twelfths()
    if primer == "omit":  # whole bars dropped, so that accents keep their place in the bar
        played = riff.generated()
        return (played, [("Guitar", GUITAR_CHANNEL, played)], [],
                generated_onset - generated_onset % bar_twelfths)
    if primer == "track":
        parts = [("Guitar", GUITAR_CHANNEL, riff.generated()),
                 ("Primer", PRIMER_CHANNEL, riff.primer())][:1 + (riff.primer_length > 0)]
        return riff, parts, [], 0
    markers = [(0, "primer"), (generated_onset, "generated")] if riff.primer_length else []
    return riff, [("Guitar", GUITAR_CHANNEL, riff)], markers, 0


def _check_options(program: int, tempo_bpm: float, primer: str) -> None:
    if program not in GUITAR_PROGRAMS:
        raise ValueError(f"guitar program {program} is not one of {sorted(GUITAR_PROGRAMS)}")
    if not 20 <= tempo_bpm <= 400:
        raise ValueError(f"tempo {tempo_bpm} bpm is outside 20..400")
    if primer not in PRIMER_MODES:
        raise ValueError(f"primer mode {primer!r} is not one of {PRIMER_MODES}")


def write_riff_midi(path: str | os.PathLike, riff: Riff, **options) -> None:
    """riff_midi(riff, **options) written atomically (never half a file)."""
    write_atomic(path, riff_midi(riff, **options))

