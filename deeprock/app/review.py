"""Listening to a track under review: a few bars of it as MIDI, rendered once to a cached WAV.

    midi_bytes = excerpt_midi(song, track, bars=4)
    wav = excerpt_wav(song, track, cache_dir)   # AudioUnavailable / AudioError when it cannot

The excerpt starts at the bar of the track's first note and plays the track alone with its own
program (General MIDI's piano, program 0, when it has none: what a player would make of it).
WAVs are cached by file content, track and length, so listening again costs nothing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import mido
import numpy as np

from deeprock.atomic import write_atomic
from deeprock.music.midi import Song, Track
from deeprock.music.tokens import BEATS_PER_BAR

EXCERPT_BARS = 4


def excerpt_notes(song: Song, track: Track, bars: int = EXCERPT_BARS) -> np.ndarray:
    """The track's notes within `bars` bars from the bar of its first note, times from 0."""
    bar_ticks = BEATS_PER_BAR * song.ticks_per_beat
    if len(track.notes) == 0:
        return track.notes
    first_bar = int(track.notes["start"][0]) // bar_ticks * bar_ticks
    end = first_bar + bars * bar_ticks
    notes = track.notes[(track.notes["start"] >= first_bar) & (track.notes["start"] < end)].copy()
    notes["start"] -= first_bar
    notes["duration"] = np.minimum(notes["duration"], end - first_bar - notes["start"])
    return notes


def excerpt_midi(song: Song, track: Track, bars: int = EXCERPT_BARS) -> bytes:
    """A type-0 MIDI file of the excerpt at the song's first tempo."""
    channel = track.channel
    messages = [(0, 0, mido.MetaMessage("set_tempo", tempo=round(60_000_000 / song.tempo)))]
    if not track.is_drum:
        messages.append((0, 1, mido.Message("program_change", channel=channel,
                                            program=track.program or 0)))
    for start, duration, pitch, velocity in excerpt_notes(song, track, bars).tolist():
        messages.append((start, 3, mido.Message("note_on", channel=channel, note=pitch,
                                                velocity=max(velocity, 1))))
        messages.append((start + max(duration, 1), 2, mido.Message("note_off", channel=channel,
                                                                   note=pitch)))
    messages.sort(key=lambda item: (item[0], item[1]))  # note-offs before note-ons at a tick
    output = mido.MidiFile(type=0, ticks_per_beat=song.ticks_per_beat)
    events, now = mido.MidiTrack(), 0
    for tick, _, message in messages:
        events.append(message.copy(time=tick - now))
        now = tick
    output.tracks.append(events)
    buffer = io.BytesIO()
    output.save(file=buffer)
    return buffer.getvalue()


def cache_path(cache_dir: str | os.PathLike, song: Song, track: Track, bars: int) -> Path:
    return Path(cache_dir) / f"{song.md5}-{track.index}-{track.channel}-{bars}.wav"


def excerpt_wav(song: Song, track: Track, cache_dir: str | os.PathLike,
                bars: int = EXCERPT_BARS) -> bytes:
    """The excerpt as WAV bytes, rendered by FluidSynth the first time and cached after."""
    from deeprock.music.audio import midi_to_wav_bytes

    path = cache_path(cache_dir, song, track, bars)
    if path.is_file():
        return path.read_bytes()
    wav = midi_to_wav_bytes(excerpt_midi(song, track, bars))
    write_atomic(path, wav)
    return wav
