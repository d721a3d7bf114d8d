"""Raw Standard MIDI File bytes: structure checks, a tolerant event walk, and repairs.

symusic parses well-formed files in well under a millisecond but rejects damaged ones and drops
the MTrk index, the channel and whether a program was ever set. This module walks the raw bytes
for exactly those facts, and rebuilds a clean file from a damaged one (RIFF/RMID wrapper, data
bytes above 127, running-status errors, truncated tracks, bad chunk lengths, missing end-of-track).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numba
import numpy as np

from deeprock.music.load_reasons import reason

END_OF_TRACK = 0x2F
TRACK_NAME = 0x03


class MidiError(ValueError):
    """The bytes cannot be read as MIDI at all; the message says why."""


@dataclass(frozen=True)
class Header:
    format: int
    tracks: int
    division: int
    end: int  # offset of the first byte after the MThd chunk


@dataclass
class ChunkFacts:
    """What symusic does not tell about one MTrk: channel and program per note-carrying track."""

    name: str = ""
    # (channel, program in effect, program was set) in the order symusic emits its tracks
    tracks: list[tuple[int, int, bool]] = field(default_factory=list)


def be32(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 4], "big")


def unwrap(data: bytes) -> tuple[bytes, list[str]]:
    """Strip a RIFF/RMID wrapper or leading junk so the bytes start with MThd."""
    repairs: list[str] = []
    if data[:4] == b"RIFF" and data[8:12] == b"RMID":
        payload = _riff_data(data)
        if payload is not None:
            data = payload
            repairs.append("removed RIFF/RMID wrapper")
    if not data.startswith(b"MThd"):
        start = data.find(b"MThd", 0, 4096)
        if start < 0:
            raise MidiError(reason("not_midi"))
        data = data[start:]
        repairs.append(f"skipped {start} bytes before the MThd header")
    return data, repairs


def _riff_data(data: bytes) -> bytes | None:
    pos = 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if data[pos : pos + 4] == b"data":
            return data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    return None


def read_header(data: bytes) -> Header:
    if len(data) < 14 or not data.startswith(b"MThd"):
        raise MidiError(reason("header_truncated"))
    length = be32(data, 4)
    if length < 6:
        raise MidiError(reason("header_length", length=length))
    fmt, tracks, division = (int.from_bytes(data[p : p + 2], "big") for p in (8, 10, 12))
    if division == 0:
        raise MidiError(reason("division_zero"))
    return Header(fmt, tracks, division, 8 + length)


def track_spans(data: bytes, header: Header) -> list[tuple[int, int]] | None:
    """(start, end) of each MTrk body when the chunk lengths chain exactly, else None."""
    spans = []
    pos = header.end
    while pos + 8 <= len(data):
        end = pos + 8 + be32(data, pos + 4)
        if end > len(data):
            return None
        if data[pos : pos + 4] == b"MTrk":
            spans.append((pos + 8, end))
        elif not data[pos : pos + 4].isalpha():
            return None
        pos = end
    return spans if pos == len(data) and spans else None


@numba.njit(cache=True, nogil=True)
def _vlq_at(buf: np.ndarray, pos: int, stop: int) -> tuple[int, int]:
    """A variable-length quantity; at most 4 bytes, as the standard allows."""
    value = 0
    for _ in range(4):
        if pos >= stop:
            break
        byte = buf[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            break
    return value, pos


@numba.njit(cache=True, nogil=True)
def walk_chunk(buf: np.ndarray, start: int, stop: int, record: bool = True):
    """Every event of one chunk, tolerantly, plus the (channel, program) pairs of its notes.

    Tolerant as mido's clip=True: data bytes are clipped to 127, a data byte with no running
    status is skipped, the walk stops at end-of-track or at the chunk end. Notes are paired
    with the program in effect at their note-on and counted once closed by a later note-off,
    exactly as symusic splits a chunk into tracks. Compiled with numba: type-0 files send
    millions of events through this loop; ``record`` false skips storing the events.

    Returns (events[n, 6]: tick, status, data1 or meta type, data2, payload offset, payload
    length; counts: clipped events, stray bytes, end-of-track seen, end offset, last track
    name offset and length; pairs[16, 128]: 0 none, 1 notes without a program change, 2 notes
    after one).
    """
    events = np.empty(((stop - start) // 2 + 1 if record else 0, 6), np.int64)
    counts = np.zeros(6, np.int64)
    counts[4] = -1
    pairs = np.zeros((16, 128), np.int8)
    program = np.zeros(16, np.int64)
    program_set = np.zeros(16, np.int64)
    # open notes: FIFO per channel*128+pitch, as linked lists over note-on slots
    head = np.full(2048, -1, np.int32)
    tail = np.full(2048, -1, np.int32)
    slots = (stop - start) // 3 + 1  # a note-on takes at least 3 bytes
    note_tick = np.empty(slots, np.int64)
    note_program = np.empty(slots, np.int64)  # program * 2 + program was set
    following = np.empty(slots, np.int32)
    n, notes, pos, tick, running = 0, 0, start, 0, 0
    while pos < stop:
        delta, pos = _vlq_at(buf, pos, stop)
        tick += delta
        if pos >= stop:
            break
        status = buf[pos]
        if status >= 0x80:
            pos += 1
        elif running:
            status = running
        else:
            counts[1] += 1
            pos += 1
            continue
        if status == 0xFF or status == 0xF0 or status == 0xF7:
            meta_type = 0
            if status == 0xFF:
                meta_type = buf[pos] if pos < stop else 0
                pos += 1
            length, pos = _vlq_at(buf, pos, stop)
            if pos + length > stop:
                break
            if record:
                events[n] = (tick, status, meta_type, 0, pos, length)
                n += 1
            if status == 0xFF and meta_type == TRACK_NAME:
                counts[4], counts[5] = pos, length
            pos += length
            if status == 0xFF and meta_type == END_OF_TRACK:
                counts[2] = 1
                break
            continue
        if status > 0xF0:
            counts[1] += 1
            continue
        running = status
        size = 1 if 0xC0 <= status < 0xE0 else 2
        if pos + size > stop:
            break
        data1 = np.int64(buf[pos])
        data2 = np.int64(buf[pos + 1]) if size == 2 else np.int64(0)
        if data1 > 0x7F or data2 > 0x7F:
            counts[0] += 1
            data1, data2 = min(data1, 0x7F), min(data2, 0x7F)
        if record:
            events[n] = (tick, status, data1, data2, pos, size)
            n += 1
        pos += size
        kind, channel = status & 0xF0, status & 0x0F
        key = channel * 128 + data1
        if kind == 0xC0:
            program[channel], program_set[channel] = data1, 1
        elif kind == 0x90 and data2 > 0:
            note_tick[notes] = tick
            note_program[notes] = program[channel] * 2 + program_set[channel]
            following[notes] = -1
            if tail[key] >= 0:
                following[tail[key]] = notes
            else:
                head[key] = notes
            tail[key] = notes
            notes += 1
        elif (kind == 0x80 or kind == 0x90) and head[key] >= 0:
            opened = head[key]
            if tick > note_tick[opened]:
                played = note_program[opened] // 2
                was_set = note_program[opened] % 2
                pairs[channel, played] = max(pairs[channel, played], 1 + was_set)
                head[key] = following[opened]
                if head[key] < 0:
                    tail[key] = -1
    counts[3] = pos
    return events[:n], counts, pairs


@numba.njit(cache=True, nogil=True)
def _file_facts(buf: np.ndarray, spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In one compiled call, for every chunk: its note pairs as rows (chunk, channel, program,
    program was set), sorted as symusic emits them, and its last track name (offset, length)."""
    rows = np.empty((len(spans) * 16 * 4 + 16, 4), np.int64)
    names = np.full((len(spans), 2), -1, np.int64)
    n = 0
    for i in range(len(spans)):
        _, counts, pairs = walk_chunk(buf, spans[i, 0], spans[i, 1], False)
        names[i, 0], names[i, 1] = counts[4], counts[5]
        for channel in range(16):
            for program in range(128):
                if pairs[channel, program]:
                    if n == len(rows):
                        rows = np.concatenate((rows, np.empty_like(rows)))
                    rows[n, 0], rows[n, 1], rows[n, 2] = i, channel, program
                    rows[n, 3] = pairs[channel, program] - 1
                    n += 1
    return rows[:n], names


def file_facts(data: bytes, spans: list[tuple[int, int]]) -> list[ChunkFacts]:
    """Per chunk: track name and (channel, program, program was set) of each symusic track."""
    buf = np.frombuffer(data, np.uint8)
    rows, names = _file_facts(buf, np.array(spans, dtype=np.int64).reshape(-1, 2))
    bounds = np.searchsorted(rows[:, 0], np.arange(len(spans) + 1)).tolist()
    triples = [(channel, program, bool(was_set)) for _, channel, program, was_set in rows.tolist()]
    return [
        ChunkFacts(bytes(buf[offset : offset + length]).decode("latin-1").strip()
                   if offset >= 0 else "", triples[bounds[i] : bounds[i + 1]])
        for i, (offset, length) in enumerate(names.tolist())
    ]


def chunk_starts(data: bytes, header: Header) -> list[int]:
    """Offsets of every MTrk header after MThd, found by their tag (lengths may be wrong)."""
    starts, pos = [], data.find(b"MTrk", header.end)
    while pos >= 0:
        starts.append(pos)
        pos = data.find(b"MTrk", pos + 8)
    return starts


def rebuild(data: bytes) -> tuple[bytes, list[str]]:
    """A clean SMF from damaged bytes, with one line per repair made.

    A chunk's real extent is found by walking its events: up to its end-of-track when the
    declared length is wrong, up to the next MTrk header or the end of the file otherwise.
    """
    data, repairs = unwrap(data)
    header = read_header(data)
    buf = np.frombuffer(data, np.uint8)
    chunks: list[bytes] = []
    starts = chunk_starts(data, header)
    for pos, following in itertools.pairwise([*starts, -1]):
        chunks.append(_rebuild_chunk(buf, pos, following, len(chunks), repairs))
    if not chunks:
        raise MidiError(reason("no_track"))
    fmt = 1 if len(chunks) > 1 and header.format == 0 else header.format
    head = b"MThd" + b"".join(v.to_bytes(n, "big") for v, n in
                              ((6, 4), (fmt, 2), (len(chunks), 2), (header.division, 2)))
    return head + b"".join(chunks), repairs


def _rebuild_chunk(buf: np.ndarray, pos: int, following: int, number: int,
                   repairs: list[str]) -> bytes:
    start = pos + 8
    declared = int.from_bytes(buf[pos + 4 : pos + 8].tobytes(), "big")
    stop = len(buf) if following < 0 else following
    events, (clipped, stray, end_of_track, end, _, _), _ = walk_chunk(buf, start, stop)
    if start + declared > len(buf) and not end_of_track:
        repairs.append(f"track {number}: truncated, {start + declared - len(buf)} bytes missing")
    elif (end if end_of_track else stop) != start + declared:
        real = (end if end_of_track else stop) - start
        repairs.append(f"track {number}: chunk length {declared} corrected to {real}")
    elif not end_of_track:
        repairs.append(f"track {number}: missing end-of-track added")
    if clipped:
        repairs.append(f"track {number}: {clipped} events with data bytes above 127 clipped")
    if stray:
        repairs.append(f"track {number}: {stray} stray bytes without running status skipped")
    body = _encode(buf, events).tobytes() + (b"" if end_of_track else b"\x00\xff\x2f\x00")
    return b"MTrk" + len(body).to_bytes(4, "big") + body


@numba.njit(cache=True, nogil=True)
def _encode(buf: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Events back to bytes: explicit status bytes, clipped data, original payloads."""
    out = np.empty(len(events) * 8 + events[:, 5].sum() + 8, np.uint8)
    pos, last_tick = 0, 0
    for tick, status, data1, data2, offset, length in events:
        pos = _put_vlq(out, pos, tick - last_tick)
        last_tick = tick
        out[pos] = status
        pos += 1
        if status == 0xFF or status == 0xF0 or status == 0xF7:
            if status == 0xFF:
                out[pos] = data1
                pos += 1
            pos = _put_vlq(out, pos, length)
            out[pos : pos + length] = buf[offset : offset + length]
            pos += length
        else:
            out[pos] = data1
            out[pos + 1] = data2
            pos += length
    return out[:pos]


@numba.njit(cache=True, nogil=True)
def _put_vlq(out: np.ndarray, pos: int, value: int) -> int:
    size = 1
    while value >> (7 * size) and size < 4:
        size += 1
    for i in range(size):
        shift = 7 * (size - 1 - i)
        out[pos + i] = ((value >> shift) & 0x7F) | (0x80 if i < size - 1 else 0)
    return pos + size
