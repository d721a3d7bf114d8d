"""Every reason the loader can give for a file it could not read, in one place.

    raise MidiError(reason("division_zero"))

A failed file's reason is a sentence about the file a person can act on, never the parser's
own text ("Get pitch_bend=8367": parser_messages.py translates those); tests/test_midi.py
produces each of these from real bytes.
"""

from __future__ import annotations

REASONS = {
    "unreadable": "cannot read: {error}",
    "too_large": "file is {size} bytes, over the {limit} byte limit",
    "empty": "empty file (0 bytes)",
    "not_midi": "not a MIDI file: no MThd header",
    "header_truncated": "MThd header missing or truncated",
    "header_length": "MThd header length {length} is below 6",
    "division_zero": "time division is 0 ticks per beat",
    "no_track": "no MTrk track chunk",
    "too_many_notes": "over {limit} notes: not a playable song",
    "unmatched_notes": "note events could not be matched to tracks and channels",
    "pitch_bend": "pitch bend value {value} out of range in track {track} at tick {tick}",
    "cut_short": "a track ends in the middle of an event: the file is cut short",
    "chunk_length": "a chunk length points past the end of the file",
    "status_byte": "unknown status byte 0x{byte} in a track",
    "running_status": "a data byte stands where no running status is set",
    "bad_format": "MIDI format {format} is not 0, 1 or 2",
    "meta_value": "a meta event holds a value out of range",
    "smpte": "SMPTE time division of {frames} frames per second and {ticks} ticks per frame "
             "is not one of 24, 25, 29.97 or 30 frames with ticks",
    "unknown": "the notes cannot be read even after repairs (no specific cause found)",
}


def reason(key: str, **values: object) -> str:
    return REASONS[key].format(**values)
