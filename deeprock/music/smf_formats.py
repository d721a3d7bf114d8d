"""What symusic cannot read but the loader can, and what it cannot say: conversions of whole
files (SMPTE time, type-2 files) and the search for the event a parser message is about.

    readable = normalize(data)   # .data, .notes (one line per conversion), .smpte_qpm
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from deeprock.music.load_reasons import reason
from deeprock.music.smf import Header, MidiError, chunk_starts, read_header, unwrap, walk_chunk


def find_bad_pitch_bend(data: bytes) -> tuple[int, int, int] | None:
    """(track, tick, value) of the first pitch bend whose data bytes exceed 127, as the parser
    reads it (msb * 128 + lsb - 8192), to name it in the file's failure reason."""
    try:
        data, _ = unwrap(data)
        starts = chunk_starts(data, read_header(data))
    except MidiError:
        return None
    buf = np.frombuffer(data, np.uint8)
    for number, (start, following) in enumerate(itertools.pairwise([*starts, len(data)])):
        events, _, _ = walk_chunk(buf, start + 8, following)
        bends = events[(events[:, 1] & 0xF0) == 0xE0]
        for tick, _, _, _, offset, _ in bends.tolist():
            lsb, msb = int(buf[offset]), int(buf[offset + 1])
            if lsb > 0x7F or msb > 0x7F:
                return number, tick, msb * 128 + lsb - 8192
    return None


@dataclass(frozen=True)
class Normalized:
    data: bytes
    notes: list[str]  # one line per conversion made
    smpte_qpm: float | None = None  # the tempo an SMPTE file's ticks were converted at


def normalize(data: bytes) -> Normalized:
    """What symusic cannot read but we can, made readable, each change said in one line:
    an SMPTE time division becomes ticks per quarter, a type-2 file its first sequence.
    Bytes whose header cannot be read are returned as they are (the repairs deal with them)."""
    try:
        header = read_header(data)
    except MidiError:
        return Normalized(data, [])
    notes, qpm = [], None
    if header.format == 2:
        starts = chunk_starts(data, header)
        if len(starts) > 1:
            data = data[: header.end] + data[starts[0] : starts[1]]
            data = _with_header(data, 0, 1, header.division)
            notes.append(f"MIDI type 2 file with {len(starts)} independent sequences: "
                         "read the first sequence only")
    if header.division & 0x8000:
        qpm = smpte_qpm(data)
        data, note = _smpte_to_quarters(data, header, qpm)
        notes.append(note)
    return Normalized(data, notes, qpm)


def _with_header(data: bytes, fmt: int, tracks: int, division: int) -> bytes:
    fields = b"".join(v.to_bytes(2, "big") for v in (fmt, tracks, division))
    return data[:8] + fields + data[14:]


SMPTE_FRAMES = {24: 24.0, 25: 25.0, 29: 29.97, 30: 30.0}  # 29: 30 drop-frame


def smpte_qpm(data: bytes) -> float:
    """The tempo an SMPTE file's times are read at: its first tempo event, else 120 bpm."""
    at = data.find(b"\xff\x51\x03")
    mspq = int.from_bytes(data[at + 3 : at + 6], "big") if at >= 0 else 0
    return 60_000_000 / mspq if mspq > 0 else 120.0


def _smpte_to_quarters(data: bytes, header: Header, qpm: float) -> tuple[bytes, str]:
    """Ticks are fractions of a second under SMPTE: give the header the ticks per quarter
    note that the file's tempo (or 120 bpm) implies, so that every tick keeps its time."""
    frames = 256 - (header.division >> 8)
    ticks_per_frame = header.division & 0xFF
    if frames not in SMPTE_FRAMES or ticks_per_frame == 0:
        raise MidiError(reason("smpte", frames=frames, ticks=ticks_per_frame))
    ticks_per_second = SMPTE_FRAMES[frames] * ticks_per_frame
    ticks_per_quarter = max(1, min(0x7FFF, round(ticks_per_second * 60 / qpm)))
    return (_with_header(data, header.format, header.tracks, ticks_per_quarter),
            f"SMPTE time ({SMPTE_FRAMES[frames]:g} frames per second, {ticks_per_frame} ticks "
            f"per frame) read as {ticks_per_quarter} ticks per quarter at {qpm:g} bpm")
