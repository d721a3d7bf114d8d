"""One loader for every MIDI file a user may have: bytes → Song (tracks of notes).

    song = load("song.mid")      # never raises; song.status is ok, recovered or failed

symusic reads the normal case; a damaged file is rebuilt by ``smf.rebuild`` and read again
(status "recovered", with the repairs listed). A track is one (MTrk index, channel) pair.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np
import symusic

from deeprock.music import smf, smf_formats
from deeprock.music.load_reasons import reason
from deeprock.music.parser_messages import parser_reason

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_NOTES = 2_000_000
NOTE_DTYPE = np.dtype(
    [("start", "<i8"), ("duration", "<i8"), ("pitch", "u1"), ("velocity", "u1")]
)


@dataclass
class Track:
    index: int  # 0-based MTrk chunk
    channel: int  # 0-15; 9 is drums
    program: int | None  # None: no program change before the notes
    name: str
    notes: np.ndarray  # NOTE_DTYPE, sorted by start then pitch; times in ticks

    @property
    def is_drum(self) -> bool:
        return self.channel == 9


@dataclass
class Song:
    path: str
    status: str = "failed"  # ok | recovered | failed
    size: int = 0
    md5: str | None = None
    repairs: list[str] = field(default_factory=list)
    error: str | None = None
    ticks_per_beat: int = 480
    tempo_ticks: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    tempo_qpm: np.ndarray = field(default_factory=lambda: np.full(1, 120.0))
    # (tick, numerator, denominator) of each time signature, the first at tick 0 (4/4 when
    # the file sets none): where the bar lines fall
    meters: list[tuple[int, int, int]] = field(default_factory=lambda: [(0, 4, 4)])
    tracks: list[Track] = field(default_factory=list)

    def seconds(self, ticks: np.ndarray) -> np.ndarray:
        """Ticks → seconds through the tempo map."""
        ticks = np.asarray(ticks, dtype=np.float64)
        seconds_per_tick = 60.0 / (self.tempo_qpm * self.ticks_per_beat)
        segment_start = np.concatenate(
            ([0.0], np.cumsum(np.diff(self.tempo_ticks) * seconds_per_tick[:-1]))
        )
        which = np.clip(np.searchsorted(self.tempo_ticks, ticks, side="right") - 1, 0, None)
        return segment_start[which] + (ticks - self.tempo_ticks[which]) * seconds_per_tick[which]

    @property
    def end_tick(self) -> int:
        ends = [int((t.notes["start"] + t.notes["duration"]).max()) for t in self.tracks]
        return max(ends, default=0)

    @property
    def length_seconds(self) -> float:
        return float(self.seconds(np.array([self.end_tick]))[0])

    @property
    def tempo(self) -> float:
        """The first tempo in quarter notes per minute (120 when the file sets none)."""
        return float(self.tempo_qpm[0])


def load(path: str | os.PathLike) -> Song:
    """Read a file from disk; every problem ends up in Song.error, never as an exception."""
    song = Song(path=str(path))
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise smf.MidiError(reason("too_large", size=size, limit=MAX_FILE_BYTES))
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, smf.MidiError) as error:
        song.error = _reason(error, b"")
        return song
    return parse(data, song)


def load_bytes(data: bytes, name: str = "<bytes>") -> Song:
    """Read MIDI from memory (uploads, tests)."""
    if len(data) > MAX_FILE_BYTES:
        return Song(path=name, error=reason("too_large", size=len(data), limit=MAX_FILE_BYTES))
    return parse(data, Song(path=name))


def parse(data: bytes, song: Song) -> Song:
    """Fast path, then symusic's own clamping, then our rebuild; SMPTE time and type-2 files
    are converted first (and again after a rebuild), each conversion listed with the repairs."""
    song.size, song.md5 = len(data), hashlib.md5(data).hexdigest()
    try:
        if not data:
            raise smf.MidiError(reason("empty"))
        readable = smf_formats.normalize(data)
        try:
            song.repairs = readable.notes + _fill(song, readable, sanitize=False)
        except Exception:  # any refusal of the fast path means: try the repairs
            try:  # the most common damage, cheaply: symusic clamps bytes above 127 itself
                song.repairs = [*readable.notes, "data bytes above 127 clamped",
                                *_fill(song, readable, sanitize=True)]
            except Exception:
                clean, repairs = smf.rebuild(data)
                readable = smf_formats.normalize(clean)
                song.repairs = repairs + readable.notes + _fill(song, readable, sanitize=False)
        song.status = "recovered" if song.repairs else "ok"
    except Exception as error:  # the loader's promise: a broken file is a reason, never a crash
        song.status, song.tracks, song.error = "failed", [], _reason(error, data)
    return song


def _fill(song: Song, readable: smf_formats.Normalized, sanitize: bool) -> list[str]:
    """Read the notes with symusic and give each of its tracks its chunk and channel.

    symusic emits tracks chunk by chunk, so the walk's per-chunk facts split its list.
    Returns notes on what was read past (a missing end-of-track).
    """
    data = readable.data
    spans = smf.track_spans(data, smf.read_header(data))
    if spans is None:
        raise smf.MidiError(reason("chunk_length"))
    score = symusic.Score.from_midi(data, sanitize_data=sanitize)
    if score.note_num() > MAX_NOTES:
        raise smf.MidiError(reason("too_many_notes", limit=MAX_NOTES))
    facts = smf.file_facts(data, spans)
    # symusic also emits note-less tracks for stray note-offs; they carry nothing we keep
    parts = [part for part in score.tracks if part.note_num()]
    if len(parts) != sum(len(chunk.tracks) for chunk in facts):
        raise smf.MidiError(reason("unmatched_notes"))
    song.tracks = []
    for index, chunk in enumerate(facts):
        song.tracks += _tracks_of_chunk(parts[: len(chunk.tracks)], chunk, index)
        del parts[: len(chunk.tracks)]
    song.ticks_per_beat = score.tpq
    tempo = score.tempos.numpy()
    tempos = list(zip(tempo["time"].tolist(), tempo["mspq"].tolist(), strict=True))
    if readable.smpte_qpm:  # SMPTE ticks are seconds: one tempo, that of the conversion
        tempos = [(0, round(60_000_000 / readable.smpte_qpm))]
    _set_tempo_map(song, tempos)
    song.meters = _meters(score.time_signatures.numpy())
    # symusic reads on to the chunk end; say so, the file is not as its writer meant
    return [f"track {index}: missing end-of-track, read to the chunk end"
            for index, (_, stop) in enumerate(spans) if data[stop - 3 : stop] != b"\xff\x2f\x00"]


def _tracks_of_chunk(parts: list, facts: smf.ChunkFacts, index: int) -> list[Track]:
    by_channel: dict[int, list] = {}
    for (channel, _, was_set), part in zip(facts.tracks, parts, strict=True):
        program = part.program if was_set or part.program else None
        by_channel.setdefault(channel, []).append((program, part.notes.numpy()))
    return [_track(index, channel, facts.name, parts) for channel, parts in by_channel.items()]


def _track(index: int, channel: int, name: str, parts: list) -> Track:
    """One channel's notes; its program is the one in effect at its first note."""
    arrays = [_note_array(part) for _, part in parts]
    notes = np.concatenate(arrays)
    if len(parts) > 1:
        notes = notes[np.lexsort((notes["pitch"], notes["start"]))]
    first = min(range(len(parts)), key=lambda i: arrays[i]["start"][0])
    return Track(index, channel, parts[first][0], name, notes)


def _note_array(arrays: dict[str, np.ndarray]) -> np.ndarray:
    notes = np.empty(len(arrays["time"]), NOTE_DTYPE)
    notes["start"] = arrays["time"]
    notes["duration"] = arrays["duration"]
    notes["pitch"] = arrays["pitch"]
    notes["velocity"] = arrays["velocity"]
    return notes


def _set_tempo_map(song: Song, tempos: list[tuple[int, int]]) -> None:
    tempos = sorted(t for t in tempos if t[1] > 0)
    if not tempos or tempos[0][0] > 0:
        tempos.insert(0, (0, tempos[0][1] if tempos else 500_000))
    ticks, mspq = np.array(tempos, dtype=np.int64).T
    song.tempo_ticks = ticks
    song.tempo_qpm = 60_000_000.0 / mspq


def _meters(signatures: dict[str, np.ndarray]) -> list[tuple[int, int, int]]:
    """Time signatures in order, the last of several at one tick winning; ones that cannot
    be a meter (a zero numerator, a denominator not a power of two) are left out."""
    by_tick: dict[int, tuple[int, int, int]] = {}
    for tick, numerator, denominator in zip(signatures["time"].tolist(),
                                            signatures["numerator"].tolist(),
                                            signatures["denominator"].tolist(), strict=True):
        if numerator > 0 and denominator > 0 and not denominator & (denominator - 1):
            by_tick[tick] = (tick, numerator, denominator)
    meters = [by_tick[tick] for tick in sorted(by_tick)]
    if not meters or meters[0][0] > 0:
        meters.insert(0, (0, 4, 4))
    return meters


def _reason(error: Exception, data: bytes) -> str:
    """A sentence from load_reasons.REASONS: ours as raised, the parser's translated."""
    if isinstance(error, OSError):
        return reason("unreadable", error=error.strerror or error)
    if isinstance(error, smf.MidiError):
        return str(error)
    return parser_reason(str(error), data)

