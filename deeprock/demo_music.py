"""The music of the demo corpus: synthetic rock songs as note lists, and their SMF encoding.

Kept apart from demo.py so corpus layout and defect injection stay readable. Everything here is
pure (a Random in, notes out), so one seed always gives the same songs, byte for byte.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, replace
from functools import lru_cache

import mido

TPB = 480  # ticks per beat every song is composed at
BAR = 4 * TPB  # all songs are in 4/4
EIGHTH, TRIPLET = TPB // 2, TPB // 3
E2, A2 = 40, 45  # the two keys: E and A, roots on the low guitar strings
SCALES = {"minor_pentatonic": (0, 3, 5, 7, 10), "blues": (0, 3, 5, 6, 7, 10)}
KICK, SNARE, HIHAT = 36, 38, 42
DRUM_CHANNEL = 9
KICK_PATTERNS = ((0, 4), (0, 3, 4), (0, 4, 5), (0, 2, 4, 6), (0, 3, 4, 7), (0, 1, 4))  # eighths
STRUMS = ((0, 2, 3, 5, 6), (0, 2, 4, 6), (0, 3, 6), (0, 2, 3, 4, 6, 7))  # eighths; odd = upstroke
RHYTHM_NAMES = ("Rhythm Guitar", "Rhythm Gtr", "Guitar", "Distortion Guitar", "Gtr 1")
LEAD_NAMES = ("Lead Gtr", "Lead Guitar", "Solo Guitar", "Gtr 2")
CLEAN_NAMES = {27: ("Clean Guitar", "Guitar", "Clean Gtr"), 25: ("Acoustic Guitar", "Steel Gtr")}
BASS_NAMES = ("Bass", "Bass Guitar", "Electric Bass")
DRUM_NAMES = ("Drums", "Drum Kit", "Kit")

Note = tuple[int, int, int, int]  # start tick, duration in ticks, pitch, velocity (at TPB)


@dataclass(frozen=True)
class Hit:
    """One guitar attack within a bar: onset, length, the pitches sounded (root first)."""

    start: int
    dur: int
    pitches: tuple[int, ...]
    vel: int


@dataclass(frozen=True)
class Part:
    """One instrument track; role is the truth the manifest reports, name/program may lie."""

    role: str  # "guitar" | "bass" | "drums"
    name: str | None
    program: int | None
    channel: int
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class Song:
    title: str | None
    bpm: int
    bars: int
    parts: tuple[Part, ...]
    note_off: bool  # end notes with note_off (else note_on velocity 0), as real files differ


def power_chord(root: int) -> tuple[int, ...]:
    return (root, root + 7, root + 12)


def _degree_pitches(root: int, scale: tuple[int, ...]) -> list[int]:
    """Power-chord roots on the scale, dropped an octave where the low E string allows."""
    return [root + d - 12 if d >= 7 and root + d - 12 >= E2 else root + d for d in scale]


def _riff_beat(rng: random.Random, at: int, root: int, pitches: list[int]) -> list[Hit]:
    """One beat of a riff: palm-muted chugs, a gallop, an accent, single notes or a triplet."""
    figure = rng.choices(("chug", "gallop", "accent", "notes", "triplet"), (5, 2, 2, 3, 1))[0]
    pc = power_chord(root)
    if figure == "chug":
        return [Hit(at + i * EIGHTH, 150, pc, rng.randint(74, 90)) for i in range(2)]
    if figure == "gallop":
        return [Hit(at + t, d, pc, 84) for t, d in ((0, 220), (240, 100), (360, 100))]
    if figure == "accent":
        return [Hit(at, 440, pc, rng.randint(100, 115))]
    singles = [p + 12 * rng.randint(0, 1) for p in rng.sample(pitches, 3)]
    step, count = (TRIPLET, 3) if figure == "triplet" else (EIGHTH, 2)
    return [Hit(at + i * step, step - 20, (singles[i],), 92) for i in range(count)]


def _riff(rng: random.Random, root: int, scale: tuple[int, ...], bars: int) -> list[list[Hit]]:
    """A riff of one or two bars; each bar starts on the tonic more often than not."""
    pitches = _degree_pitches(root, scale)
    riff = []
    for _ in range(bars):
        hits: list[Hit] = []
        for beat in range(4):
            chord_root = root if beat == 0 and rng.random() < 0.6 else rng.choice(pitches)
            hits += _riff_beat(rng, beat * TPB, chord_root, pitches)
        riff.append(hits)
    return riff


def _chug_bar(root: int) -> list[Hit]:
    """Eight palm-muted power chords, the first one accented and let ring a little longer."""
    return [Hit(i * EIGHTH, 200 if i == 0 else 150, power_chord(root), 104 if i == 0 else 82)
            for i in range(8)]


def _lick_bar(rng: random.Random, pitches: list[int]) -> list[Hit]:
    """A lead phrase: a random walk on the scale in quarters, eighths, triplets or sixteenths."""
    hits, idx = [], rng.randrange(len(pitches))
    for beat in range(4):
        count = rng.choice((1, 2, 2, 3, 4))
        step = TPB // count
        for i in range(count):
            idx = min(len(pitches) - 1, max(0, idx + rng.randint(-2, 2)))
            vel = rng.randint(88, 118)
            hits.append(Hit(beat * TPB + i * step, step - 20, (pitches[idx],), vel))
    return hits


def _strum_bar(root: int, minor: bool, pattern: tuple[int, ...], gap: int) -> list[Hit]:
    """Open chord strums: five strings `gap` ticks apart, released together."""
    third = 3 if minor else 4
    voicing = [root, root + 7, root + 12, root + 12 + third, root + 19]
    hits = []
    for k, slot in enumerate(pattern):
        release = (pattern[k + 1] if k + 1 < len(pattern) else 8) * EIGHTH - 10
        strings = voicing if slot % 2 == 0 else voicing[::-1]  # downstroke low to high
        for i, pitch in enumerate(strings):
            start = slot * EIGHTH + i * gap
            hits.append(Hit(start, release - start, (pitch,), 86 - 6 * (slot % 2) - i))
    return hits


def _form(rng: random.Random, bars: int) -> list[str]:
    """Section of each bar, in blocks of four: riff first, then riff, chords or solo."""
    blocks = ["riff", *rng.choices(("riff", "chords", "solo"), (3, 3, 2), k=(bars - 1) // 4)]
    return [blocks[b // 4] for b in range(bars)]


def _drum_bar(kicks: tuple[int, ...], hats: int, fill: bool) -> list[Note]:
    """Kick pattern, snare on 2 and 4, hi-hat eighths or quarters; a snare fill ends a block."""
    notes = [(s * EIGHTH, 60, KICK, 100) for s in kicks]
    notes += [(s * EIGHTH, 60, SNARE, 105) for s in (2, 6)]
    notes += [(s * EIGHTH, 60, HIHAT, 84 if s % 2 == 0 else 64)
              for s in range(0, 6 if fill else 8, 8 // hats)]
    if fill:
        notes += [(6 * EIGHTH + i * 120, 60, SNARE, 80 + 8 * i) for i in range(1, 4)]
    return notes


def _place(bar_hits: list[list[Hit]]) -> tuple[Note, ...]:
    """Expand per-bar hits into absolute notes."""
    return tuple((b * BAR + h.start, h.dur, p, h.vel) for b, hits in enumerate(bar_hits)
                 for h in hits for p in h.pitches)


def _bass(guitar: list[list[Hit]]) -> tuple[Note, ...]:
    """The bass doubles the root of every guitar attack one or two octaves down, held to the
    next one; triplet runs are left to the guitar."""
    onsets = sorted({(b * BAR + h.start, h.pitches[0]) for b, hits in enumerate(guitar)
                     for h in hits if len(h.pitches) > 1 or h.start % EIGHTH == 0})
    ends = [t for t, _ in onsets[1:]] + [len(guitar) * BAR]
    return tuple((t, max(60, end - t - 20), pitch - (24 if pitch > 59 else 12), 96)
                 for (t, pitch), end in zip(onsets, ends, strict=True))


def compose(rng: random.Random, title: str, loop: bool = False) -> Song:
    """A song of 8-40 bars; a loop repeats one short riff, untouched, in every track."""
    root, scale = rng.choice((E2, A2)), SCALES[rng.choice(sorted(SCALES))]
    pitches = _degree_pitches(root, scale)
    bpm, riff_bars = rng.randint(80, 180), rng.choice((1, 2))
    riff = _riff(rng, root, scale, riff_bars)
    bars = riff_bars * rng.randint(8, 16) if loop else rng.randint(8, 40)
    form = ["riff"] * bars if loop else _form(rng, bars)
    progression = [root] + [rng.choice(pitches) for _ in range(3)]
    rhythm = [riff[b % riff_bars] if kind == "riff" else _chug_bar(progression[b % 4])
              for b, kind in enumerate(form)]
    kicks, hats = rng.choice(KICK_PATTERNS), 4 if bpm > 150 else 8
    fills = [not loop and b % 4 == 3 and rng.random() < 0.5 for b in range(bars)]
    drums = tuple((b * BAR + t, d, p, v) for b in range(bars)
                  for t, d, p, v in _drum_bar(kicks, hats, fills[b]))
    high = sorted({p + 24 for p in pitches} | {p + 36 for p in sorted(pitches)[:3]})
    leads = [_lick_bar(rng, high) if kind == "solo" else [] for kind in form]
    parts = [Part("guitar", rng.choice(RHYTHM_NAMES), rng.choice((29, 30)), 0, _place(rhythm))]
    if any(leads):
        parts.append(Part("guitar", rng.choice(LEAD_NAMES), rng.choice((29, 30)), 1, _place(leads)))
    if "chords" in form and rng.random() < 0.6:
        program, pattern = rng.choice((27, 25)), rng.choice(STRUMS)
        tick_ms = 60_000 / bpm / TPB  # four gaps from first to last string make 5-25 ms
        gap = rng.randint(math.ceil(5 / 4 / tick_ms), math.floor(25 / 4 / tick_ms))
        minor = {p: (p - root) % 12 in (0, 5, 7) for p in progression}
        strums = [_strum_bar(progression[b % 4], minor[progression[b % 4]], pattern, gap)
                  if kind == "chords" else [] for b, kind in enumerate(form)]
        parts.append(Part("guitar", rng.choice(CLEAN_NAMES[program]), program, 2, _place(strums)))
    parts.append(Part("bass", rng.choice(BASS_NAMES), rng.choice((33, 34)), 3, _bass(rhythm)))
    parts.append(Part("drums", rng.choice(DRUM_NAMES), 0, DRUM_CHANNEL, drums))
    return Song(title, bpm, bars, tuple(parts), rng.random() < 0.5)


def transpose(song: Song, semitones: int) -> Song:
    """Every pitched track shifted by the same interval; drums untouched."""
    parts = tuple(p if p.role == "drums" else
                  replace(p, notes=tuple((s, d, n + semitones, v) for s, d, n, v in p.notes))
                  for p in song.parts)
    return replace(song, parts=parts)


def _cut_bars(notes: tuple[Note, ...], at: int, bars: int) -> tuple[Note, ...]:
    """Drop `bars` bars starting at bar `at`, pulling later notes forward."""
    lo, hi = at * BAR, (at + bars) * BAR
    return tuple((s if s < lo else s - (hi - lo), d, n, v) for s, d, n, v in notes
                 if not lo <= s < hi)


def _repeat_bars(notes: tuple[Note, ...], at: int, bars: int) -> tuple[Note, ...]:
    """Play bars [at, at+bars) twice, pushing later notes back."""
    lo, hi = at * BAR, (at + bars) * BAR
    moved = [(s if s < hi else s + hi - lo, d, n, v) for s, d, n, v in notes]
    return tuple(sorted(moved + [(s + hi - lo, d, n, v) for s, d, n, v in notes if lo <= s < hi]))


def vary(song: Song, rng: random.Random) -> tuple[Song, str]:
    """A numbered version: a few rhythm-guitar notes moved, maybe a four-bar section dropped
    or played twice. Returns the new song and what changed."""
    first = song.parts[0]
    notes = list(first.notes)
    changed = rng.sample(range(len(notes)), rng.randint(3, 6))
    for i in changed:
        s, d, n, v = notes[i]
        notes[i] = (s, d, n + rng.choice((-2, -1, 1, 2)), v)
    parts = (replace(first, notes=tuple(notes)), *song.parts[1:])
    what, bars = f"{len(changed)} notes changed", song.bars
    op, at = rng.choice(("drop", "add", "none")), rng.randrange(1, song.bars - 4)
    if (op == "drop" and bars >= 12) or (op == "add" and bars <= 36):
        edit = _cut_bars if op == "drop" else _repeat_bars
        parts = tuple(replace(p, notes=edit(p.notes, at, 4)) for p in parts)
        bars += -4 if op == "drop" else 4
        what += f"; bars {at + 1}-{at + 4} {'dropped' if op == 'drop' else 'repeated'}"
    return replace(song, bars=bars, parts=parts), what


def _scale(tick: int, tpb: int) -> int:
    return tick * tpb // TPB if tpb % TPB == 0 else round(tick * tpb / TPB)


@lru_cache(maxsize=1 << 16)
def _message(data: tuple[int, ...], delta: int) -> mido.Message:
    """Shared note messages: tracks are only saved, never edited, and building each message
    anew was half the corpus generation time (riffs repeat the same few events)."""
    return mido.Message.from_bytes(data, time=delta)


def _track(part: Part, tpb: int, end: int, note_off: bool) -> mido.MidiTrack:
    """One MTrk: name, program, the notes at `tpb`, end-of-track at the song end."""
    events = []
    for start, dur, pitch, vel in part.notes:
        on = _scale(start, tpb)
        events += [(on, 1, pitch, vel), (max(on + 1, _scale(start + dur, tpb)), 0, pitch, 0)]
    events.sort()
    track = mido.MidiTrack()
    if part.name is not None:
        track.append(mido.MetaMessage("track_name", name=part.name))
    if part.program is not None:
        track.append(mido.Message("program_change", channel=part.channel, program=part.program))
    on_status, off_status = 0x90 | part.channel, (0x80 if note_off else 0x90) | part.channel
    off_vel, now = 64 if note_off else 0, 0
    for tick, is_on, pitch, vel in events:
        data = (on_status, pitch, vel) if is_on else (off_status, pitch, off_vel)
        track.append(_message(data, tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
    return track


def encode(song: Song, tpb: int = TPB) -> bytes:
    """A type-1 SMF: conductor track (name, tempo, 4/4), then one MTrk per part."""
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    end = _scale(song.bars * BAR, tpb)
    conductor = mido.MidiTrack()
    if song.title is not None:
        conductor.append(mido.MetaMessage("track_name", name=song.title))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(song.bpm)))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4))
    conductor.append(mido.MetaMessage("end_of_track", time=end))
    mid.tracks.append(conductor)
    mid.tracks.extend(_track(p, tpb, end, song.note_off) for p in song.parts)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()
