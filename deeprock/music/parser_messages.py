"""symusic's messages about a file it cannot read, as sentences of load_reasons.REASONS.

    text = parser_reason(raw_message, data)   # "Get pitch_bend=8367" -> which track, which tick

Beside midi.py, its only caller: the pitch-bend search needs smf_formats, which needs
load_reasons, so this half lives apart and imports run one way (load_reasons <- smf <- here).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from deeprock.music import smf_formats
from deeprock.music.load_reasons import reason


def _pitch_bend(match: re.Match, data: bytes) -> str:
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
