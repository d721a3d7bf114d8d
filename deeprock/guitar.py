"""Is this track a guitar? Metadata first (GM program, then a telling name).

Inference from the notes alone, for tracks without metadata, arrives with the dataset-health
work; the fields it fills (guitar_source "inferred", guitar_probability) exist already.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deeprock.midi import Song, Track

# GM nylon, steel, jazz, clean, muted, overdriven, distortion, harmonics
GUITAR_PROGRAMS = range(24, 32)
# guitar in the languages of the collection, and the usual abbreviations ("Gtr", "Git.")
GUITAR_NAME = re.compile(r"guit|gtr|gitar|git\b|chitarr|guitarra", re.IGNORECASE)


@dataclass(frozen=True)
class GuitarDecision:
    guitar: bool
    source: str | None  # "metadata" | "inferred" | None (undecided: no metadata, no inference)
    probability: float
    reason: str


def by_metadata(track: Track) -> GuitarDecision:
    """Program 24-31 on a non-drum channel; a guitar-like name only when no program is set."""
    if track.is_drum:
        return GuitarDecision(False, "metadata", 0.0, "drum channel 10")
    if track.program is not None:
        guitar = track.program in GUITAR_PROGRAMS
        return GuitarDecision(guitar, "metadata", float(guitar), f"GM program {track.program}")
    if GUITAR_NAME.search(track.name):
        return GuitarDecision(True, "metadata", 1.0, f"no program; track name {track.name!r}")
    return GuitarDecision(False, None, 0.0, "no program and no telling name")


def decide(song: Song, track: Track) -> GuitarDecision:
    """The guitar decision for a track: metadata when it has any."""
    return by_metadata(track)
