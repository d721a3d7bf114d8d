"""The music of the demo corpus: synthetic rock songs as note lists, and their SMF encoding.

A song is built like a rock guitar part, in sections of four bars: an intro, a verse riff with
turnarounds, a chorus of power chords on other roots, a bridge riff up the neck and, in many
songs, a solo of licks over two octaves of the scale. So a window of 100 guitar tokens holds
about 12-16 distinct ones (a solo 20 and more), and most pass the post's unique_factor 10, as
in a real collection; a loop repeats one riff of two to four tokens and never does.

Kept apart from demo.py so corpus layout and defect injection stay readable. Everything here is
pure (a Random in, notes out), so one seed always gives the same songs, byte for byte.
"""

from __future__ import annotations

import io
import math
import random
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import mido

from deeprock.music.tokens import BEATS_PER_BAR

TPB = 480  # ticks per beat every song is composed at
BAR = BEATS_PER_BAR * TPB  # all songs are in 4/4
EIGHTH = TPB // 2
E2, A2 = 40, 45  # the two keys: E and A, roots on the low guitar strings
SCALES = {"minor_pentatonic": (0, 3, 5, 7, 10), "blues": (0, 3, 5, 6, 7, 10)}
KICK, SNARE, HIHAT = 36, 38, 42
DRUM_CHANNEL = 9
KICK_PATTERNS = ((0, 4), (0, 3, 4), (0, 4, 5), (0, 2, 4, 6), (0, 3, 4, 7), (0, 1, 4))  # eighths
STRUMS = ((0, 2, 3, 5, 6), (0, 2, 4, 6), (0, 3, 6), (0, 2, 3, 4, 6, 7))  # eighths; odd = upstroke
CHORD_RHYTHMS = ((0, 4), (0, 3, 6), (0, 2, 3, 5, 6), (0, 1, 2, 3, 4, 5, 6, 7), (0, 3, 4, 6),
                 (0, 2, 4, 5, 6, 7), (0, 3, 5))  # eighths a chorus bar strikes
FIGURES = ("chug", "gallop", "accent", "notes", "run", "triplet")  # what a riff beat plays
VOICINGS = ((0, 7, 12), (0, 7), (0, 12))  # power chord, bare fifth, octave
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


@dataclass(frozen=True)
class Palette:
    """What a song's guitars play: power-chord roots on the low strings and an octave up, riff
    notes from the tonic up an octave and a half, lead notes over two octaves (scale and 2nd)."""

    tonic: int
    roots: tuple[int, ...]
    upper: tuple[int, ...]
    notes: tuple[int, ...]
    lead: tuple[int, ...]


def palette(root: int, scale: tuple[int, ...]) -> Palette:
    """Roots are dropped an octave where the low E string allows; every root is on the scale."""
    roots = [root + d - 12 if d >= 7 and root + d - 12 >= E2 else root + d for d in scale]
    upper = sorted(p + 12 for p in roots if p + 12 <= root + 19)
    notes = [root + octave + d for octave in (0, 12) for d in scale if octave + d <= 15]
    lead = [root + 12 + octave + d for octave in (0, 12) for d in sorted({*scale, 2})]
    return Palette(root, tuple(roots), tuple(upper), tuple(notes), (*lead, root + 36))


@dataclass(frozen=True)
class Style:
    """A song's rhythm-guitar habits: how often each riff figure and each voicing comes up."""

    figures: tuple[int, ...]  # weights of FIGURES
    voicings: tuple[int, ...]  # weights of VOICINGS

    @classmethod
    def draw(cls, rng: random.Random) -> Style:
        """Chugs lead; gallops, runs and triplets come up in some songs and not others; most
        songs play full power chords only."""
        figures = tuple(rng.randint(lo, hi) for lo, hi in ((2, 6), (0, 3), (1, 3), (1, 4),
                                                            (0, 3), (0, 2)))
        return cls(figures, (8, rng.choice((0, 0, 1, 2)), rng.choice((0, 0, 1))))

    def shape(self, rng: random.Random, root: int) -> tuple[int, ...]:
        return tuple(root + i for i in rng.choices(VOICINGS, self.voicings)[0])


def _riff_beat(rng: random.Random, at: int, shape: tuple[int, ...], notes: tuple[int, ...],
               style: Style) -> list[Hit]:
    """One beat: palm-muted chugs, a gallop, an accent, or two, four or three single notes."""
    figure = rng.choices(FIGURES, style.figures)[0]
    if figure == "chug":
        return [Hit(at + i * EIGHTH, 150, shape, rng.randint(74, 90)) for i in range(2)]
    if figure == "gallop":
        return [Hit(at + t, d, shape, 84) for t, d in ((0, 220), (240, 100), (360, 100))]
    if figure == "accent":
        return [Hit(at, 440, shape, rng.randint(100, 115))]
    count = {"notes": 2, "run": 4, "triplet": 3}[figure]
    step, i = TPB // count, rng.randrange(len(notes))
    hits = []
    for k in range(count):
        hits.append(Hit(at + k * step, step - 20, (notes[i],), 92 - 4 * k))
        i = min(len(notes) - 1, max(0, i + rng.choice((-2, -1, 1, 2))))
    return hits


def _riff_bar(rng: random.Random, roots: tuple[int, ...], tonic: int, notes: tuple[int, ...],
              style: Style) -> list[Hit]:
    """Four beats of riff; the bar starts on its tonic more often than not."""
    hits: list[Hit] = []
    for beat in range(4):
        root = tonic if beat == 0 and rng.random() < 0.6 else rng.choice(roots)
        hits += _riff_beat(rng, beat * TPB, style.shape(rng, root), notes, style)
    return hits


def _chord_bar(rng: random.Random, root: int, rhythm: tuple[int, ...], style: Style,
               pickup: tuple[int, ...] = ()) -> list[Hit]:
    """Power chords on the eighths of `rhythm`, ringing to the next; pickup notes end the bar."""
    end = 8 - len(pickup)
    slots = [s for s in rhythm if s < end] or [0]
    hits = []
    for k, slot in enumerate(slots):
        length = ((slots[k + 1] if k + 1 < len(slots) else end) - slot) * EIGHTH
        shape = power_chord(root) if k == 0 else style.shape(rng, root)
        hits.append(Hit(slot * EIGHTH, length - 40 if length > EIGHTH else 150, shape,
                        110 if k == 0 else rng.randint(84, 96)))
    return hits + [Hit((end + i) * EIGHTH, 200, (p,), 96) for i, p in enumerate(pickup)]


def _chug_bar(root: int) -> list[Hit]:
    """Eight palm-muted power chords, the first one accented and let ring a little longer."""
    return [Hit(i * EIGHTH, 200 if i == 0 else 150, power_chord(root), 104 if i == 0 else 82)
            for i in range(8)]


def _sections(rng: random.Random, pal: Palette) -> tuple[dict[str, list[list[Hit]]], list[int]]:
    """The rhythm guitar of each section kind, four bars (the verse eight) played in turn:
    a main riff with turnarounds, a chorus on other roots, a bridge riff up the neck, and
    chugged chords under the solo; and the chorus roots."""
    style, low = Style.draw(rng), pal.roots
    roots, at = (pal.tonic, *rng.sample(low[1:], 2)), rng.randrange(len(pal.notes) - 4)
    notes = pal.notes[at : at + 5]
    riff = [_riff_bar(rng, roots, pal.tonic, notes, style) for _ in range(rng.choice((1, 2)))]
    turns = [_riff_bar(rng, roots, rng.choice(low), notes, style) for _ in range(2)]
    verse = [*(riff * 3)[:3], turns[0], *(riff * 3)[:3], turns[1]]
    others = [p for p in low + pal.upper if p % 12 != pal.tonic % 12]
    chorus_roots = [*rng.sample(others, 3), rng.choice((pal.tonic, pal.tonic + 12))]
    rhythm, pickup = rng.choice(CHORD_RHYTHMS), tuple(rng.sample(pal.notes, rng.randint(0, 2)))
    chorus = [_chord_bar(rng, r, rhythm, style, pickup if b == 3 else ())
              for b, r in enumerate(chorus_roots)]
    high = rng.sample(pal.upper, 3)
    bridge = [_riff_bar(rng, high, high[0], notes, style) for _ in range(3)]
    solo = [_chug_bar(r) for r in (pal.tonic, *rng.sample(low[1:], 2), pal.tonic)]
    intro = verse[:4] if rng.random() < 0.5 else [_chord_bar(rng, r, (0, 4), style)
                                                 for r in chorus_roots]
    return {"intro": intro, "verse": verse, "chorus": chorus, "solo": solo,
            "bridge": [*bridge[:2], bridge[0], bridge[2]]}, chorus_roots


def _loop_riff(rng: random.Random, pal: Palette, bars: int) -> list[list[Hit]]:
    """A loop: one or two bars of eighths on two to four shapes (the tonic power chord and
    other chords or notes), each played at least once; a repeated shape may rest instead."""
    others = [power_chord(r) for r in pal.roots[1:]] + [(n,) for n in pal.notes[1:]]
    shapes = [power_chord(pal.tonic), *rng.sample(others, rng.randint(1, 3))]
    order = shapes[1:] + rng.choices(shapes, k=8 * bars - len(shapes))
    rng.shuffle(order)
    played, riff = [shapes[0], *order], [list[Hit]() for _ in range(bars)]
    for i, shape in enumerate(played):
        if i and shape == played[i - 1] and rng.random() < 0.3:
            continue
        riff[i // 8].append(Hit(i % 8 * EIGHTH, 200, shape, 100 if i % 4 == 0 else 84))
    return riff


def _lick_bar(rng: random.Random, lead: tuple[int, ...], centre: int) -> list[Hit]:
    """A lead phrase around lead[centre]: a walk in quarters, eighths, triplets or sixteenths,
    now and then a double stop."""
    hits, i = [], centre
    for beat in range(4):
        count = rng.choice((1, 2, 2, 3, 4, 4))
        step = TPB // count
        for k in range(count):
            i = min(len(lead) - 1, max(0, i + rng.choice((-2, -1, -1, 1, 1, 2))))
            double = i + 2 < len(lead) and rng.random() < 0.12
            pitches = (lead[i], lead[i + 2]) if double else (lead[i],)
            hits.append(Hit(beat * TPB + k * step, step - 20, pitches, rng.randint(88, 118)))
    return hits


def _melody(rng: random.Random, lead: tuple[int, ...]) -> list[list[Hit]]:
    """Four bars of a sung line for the choruses, in the lower octave of the lead notes."""
    bars, i = [], rng.randrange(7)
    for _ in range(4):
        hits, at = [], 0
        while at < 8:
            length = min(8 - at, rng.choice((1, 1, 2, 2, 3, 4)))
            i = min(8, max(0, i + rng.choice((-2, -1, 0, 1, 2))))
            hits.append(Hit(at * EIGHTH, length * EIGHTH - 30, (lead[i],), rng.randint(84, 104)))
            at += length
        bars.append(hits)
    return bars


def _strum_bar(root: int, minor: bool, pattern: tuple[int, ...], gap: int,
               partial: bool) -> list[Hit]:
    """Open chord strums: five strings `gap` ticks apart, released together; a partial
    upstroke takes the top three strings over the same spread."""
    third = 3 if minor else 4
    voicing = [root, root + 7, root + 12, root + 12 + third, root + 19]
    hits = []
    for k, slot in enumerate(pattern):
        release = (pattern[k + 1] if k + 1 < len(pattern) else 8) * EIGHTH - 10
        up = slot % 2 == 1
        strings = (voicing[2:] if partial else voicing)[::-1] if up else voicing
        spread = 4 * gap // (len(strings) - 1)
        for i, pitch in enumerate(strings):
            start = slot * EIGHTH + i * spread
            hits.append(Hit(start, release - start, (pitch,), 86 - 6 * up - i))
    return hits


def _form(rng: random.Random, bars: int) -> list[str]:
    """Section of each bar, in blocks of four: maybe an intro, verses and choruses, a bridge
    and/or a solo about two thirds in, choruses to the end."""
    verse, chorus = ["verse"] * rng.choice((1, 2)), ["chorus"] * rng.choice((1, 2))
    blocks = ["intro"] * (rng.random() < 0.6) + (verse + chorus) * 2
    middle = ["bridge"] * (rng.random() < 0.7) + ["solo"] * rng.choice((0, 1, 2, 2))
    at = min(len(blocks), max(2, 2 * math.ceil(bars / 4) // 3))
    blocks = blocks[:at] + middle + blocks[at:] + ["chorus"] * 10
    return [blocks[b // 4] for b in range(bars)]


def _arrange(form: list[str], sections: dict[str, list[list[Hit]]]) -> list[list[Hit]]:
    """Each bar from its section, the section's bars played in turn; silent in the others."""
    played: Counter[str] = Counter()
    bars = []
    for kind in form:
        section = sections.get(kind) or [[]]
        bars.append(section[played[kind] % len(section)])
        played[kind] += 1
    return bars


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
    next one; notes between the eighths (triplets, sixteenths) are left to the guitar."""
    onsets = sorted({(b * BAR + h.start, h.pitches[0]) for b, hits in enumerate(guitar)
                     for h in hits if len(h.pitches) > 1 or h.start % EIGHTH == 0})
    ends = [t for t, _ in onsets[1:]] + [len(guitar) * BAR]
    return tuple((t, max(60, end - t - 20), pitch - (24 if pitch > 59 else 12), 96)
                 for (t, pitch), end in zip(onsets, ends, strict=True))


def _leads(rng: random.Random, form: list[str], lead: tuple[int, ...]) -> list[list[Hit]]:
    """Licks over the solo, climbing through two octaves; maybe a melody over the choruses."""
    n = form.count("solo")
    solo = [_lick_bar(rng, lead, round((len(lead) - 1) * (0.15 + 0.7 * k / max(1, n - 1))))
            for k in range(n)]
    melody = _melody(rng, lead) if solo or rng.random() < 0.4 else []
    return _arrange(form, {"solo": solo, "chorus": melody})


def _strums(rng: random.Random, form: list[str], roots: list[int], tonic: int,
            bpm: int) -> Part | None:
    """Clean or steel strings strumming the chorus chords, in some songs."""
    if "chorus" not in form or rng.random() >= 0.6:
        return None
    program, pattern = rng.choice((27, 25)), rng.choice(STRUMS)
    tick_ms = 60_000 / bpm / TPB  # four gaps from first to last string make 5-25 ms
    gap = rng.randint(math.ceil(5 / 4 / tick_ms), math.floor(25 / 4 / tick_ms))
    partial = rng.random() < 0.5
    chorus = [_strum_bar(r, (r - tonic) % 12 in (0, 5, 7), pattern, gap, partial) for r in roots]
    bars = _arrange(form, {"chorus": chorus})
    return Part("guitar", rng.choice(CLEAN_NAMES[program]), program, 2, _place(bars))


def compose(rng: random.Random, title: str, loop: bool = False) -> Song:
    """A song of 8-40 bars in sections; a loop repeats one short riff, untouched, in every track."""
    root, scale = rng.choice((E2, A2)), SCALES[rng.choice(sorted(SCALES))]
    pal, bpm = palette(root, scale), rng.randint(80, 180)
    if loop:
        riff = _loop_riff(rng, pal, rng.choice((1, 2)))
        bars = len(riff) * rng.randint(8, 16)
        form, rhythm = ["loop"] * bars, [riff[b % len(riff)] for b in range(bars)]
        chorus: list[int] = []
    else:
        bars = rng.randint(8, 40)
        form, (sections, chorus) = _form(rng, bars), _sections(rng, pal)
        rhythm = _arrange(form, sections)
    kicks, hats = rng.choice(KICK_PATTERNS), 4 if bpm > 150 else 8
    fills = [not loop and b % 4 == 3 and rng.random() < 0.5 for b in range(bars)]
    drums = tuple((b * BAR + t, d, p, v) for b in range(bars)
                  for t, d, p, v in _drum_bar(kicks, hats, fills[b]))
    leads = _leads(rng, form, pal.lead)
    parts = [Part("guitar", rng.choice(RHYTHM_NAMES), rng.choice((29, 30)), 0, _place(rhythm))]
    if any(leads):
        parts.append(Part("guitar", rng.choice(LEAD_NAMES), rng.choice((29, 30)), 1, _place(leads)))
    if strums := _strums(rng, form, chorus, root, bpm):
        parts.append(strums)
    parts.append(Part("bass", rng.choice(BASS_NAMES), rng.choice((33, 34)), 3, _bass(rhythm)))
    parts.append(Part("drums", rng.choice(DRUM_NAMES), 0, DRUM_CHANNEL, drums))
    return Song(title, bpm, bars, tuple(parts), rng.random() < 0.5)


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
