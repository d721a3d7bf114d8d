"""Every reason the loader can give for a file it could not read, in one place.

    raise MidiError(reason("division_zero"))
    text = parser_reason(raw_message, data)   # symusic's message, as a sentence about the file

A failed file's reason is a sentence about the file a person can act on, never the parser's
own text ("Get pitch_bend=8367"); tests/test_midi.py produces each of these from real bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

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


def _pitch_bend(match: re.Match, data: bytes) -> str:
    from deeprock import smf_formats

    found = smf_formats.find_bad_pitch_bend(data)
    if found is None:
        return reason("pitch_bend", value=match[1], track="?", tick="?")
    track, tick, value = found
    return reason("pitch_bend", value=value, track=track, tick=tick)


# symusic (MiniMidi) messages → our sentences; the first pattern that matches wins
PARSER_MESSAGES: list[tuple[re.Pattern, Callable[[re.Match, bytes], str]]] = [
    (re.compile(r"pitch_bend=(-?\d+)"), _pitch_bend),
    (re.compile(r"Unexpected EOF"), lambda m, d: reason("cut_short")),
    (re.compile(r"Invalid chunk length"), lambda m, d: reason("chunk_length")),
    (re.compile(r"status byte: 0x(\w+)"), lambda m, d: reason("status_byte", byte=m[1])),
    (re.compile(r"Unexpected running status"), lambda m, d: reason("running_status")),
    (re.compile(r"midi format \((\d+)"), lambda m, d: reason("bad_format", format=m[1])),
    (re.compile(r"Meta value"), lambda m, d: reason("meta_value")),
    (re.compile(r"header is not MThd"), lambda m, d: reason("not_midi")),
    (re.compile(r"size is less than"), lambda m, d: reason("header_truncated")),
]


def parser_reason(message: str, data: bytes) -> str:
    """The parser's raw message as one of REASONS (``unknown`` when none fits)."""
    for pattern, describe in PARSER_MESSAGES:
        match = pattern.search(message)
        if match:
            return describe(match, data)
    return reason("unknown")
