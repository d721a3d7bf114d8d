"""Keys and scales for rock: detect one from notes, and how much of a token is in it.

    key = detect_key([40, 43, 45, 47, 50])          # Key(root=4, scale="minor-pentatonic", fit=1.0)
    key = Key.parse("E", "minor-pentatonic")
    shares = in_scale_shares(vocabulary_tokens, key) # per token: share of its pitches in the key

muspy's scale consistency knows only major and minor, which misjudges rock: riffs live on the
minor pentatonic and the blues scale (minor pentatonic + b5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deeprock.generation.stats import vocabulary_pitches
from deeprock.music.tokens import PITCH_CLASSES

SCALES = {  # semitones above the root
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "minor-pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}
ROOT_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_ROOT_ALIASES = {"DB": 1, "D#": 3, "E-": 3, "GB": 6, "G#": 8, "A#": 10, "B-": 10, "CB": 11}


def root_number(name: str) -> int:
    """'E' → 4, 'F#' → 6, 'Bb' → 10 (music21's 'B-' too); a ValueError names the input."""
    key = name.strip().upper()
    for number, spelled in enumerate(ROOT_NAMES):
        if key in (spelled.upper(), PITCH_CLASSES[number].upper()):
            return number
    if key in _ROOT_ALIASES:
        return _ROOT_ALIASES[key]
    raise ValueError(f"key {name!r} is not a note name (C, C#, Db, ... B)")


@dataclass(frozen=True)
class Key:
    root: int  # pitch class 0 (C) .. 11 (B)
    scale: str  # a name in SCALES
    fit: float | None = 1.0  # share of the notes it was detected from in it (None: no notes)

    @classmethod
    def parse(cls, root: str, scale: str) -> Key:
        if scale not in SCALES:
            raise ValueError(f"scale {scale!r} is not one of {', '.join(SCALES)}")
        return cls(root_number(root), scale)

    def pitch_classes(self) -> np.ndarray:
        """A 12-slot boolean mask of the scale's pitch classes."""
        mask = np.zeros(12, bool)
        mask[[(self.root + step) % 12 for step in SCALES[self.scale]]] = True
        return mask

    def name(self) -> str:
        return f"{ROOT_NAMES[self.root]} {self.scale}"

    def to_dict(self) -> dict:
        fit = None if self.fit is None else round(self.fit, 4)
        return {"root": ROOT_NAMES[self.root], "scale": self.scale, "fit": fit}


def _scale_masks() -> tuple[list[tuple[int, str]], np.ndarray]:
    """Every (root, scale) and its 12-slot mask, in a fixed order (ties: the first wins)."""
    keys = [(root, scale) for scale in SCALES for root in range(12)]
    return keys, np.stack([Key(root, scale).pitch_classes() for root, scale in keys])


def detect_key(pitches: Sequence[int], root: int | None = None,
               scale: str | None = None) -> Key | None:
    """The (root, scale) holding the largest share of the notes, among those with the given
    root or scale when one is fixed; the smaller scale wins a tie (a pentatonic line is in its
    major scale too, but saying pentatonic says more)."""
    counts = np.bincount(np.asarray(pitches, np.int64) % 12, minlength=12)
    if not counts.sum():
        return None
    keys, masks = _scale_masks()
    inside = masks @ counts
    sizes = masks.sum(axis=1)
    allowed = [k for k, (r, s) in enumerate(keys)
               if root in (None, r) and scale in (None, s)]
    best = max(allowed, key=lambda k: (inside[k], -sizes[k], -k))
    return Key(*keys[best], float(inside[best] / counts.sum()))


def scale_consistency(pitches: Sequence[int]) -> float | None:
    """Share of the notes in the best-fitting scale on any root (None without notes)."""
    key = detect_key(pitches)
    return None if key is None else key.fit


def in_scale_shares(tokens: Sequence[str], key: Key) -> np.ndarray:
    """Per vocabulary token: the share of its pitches in the key (specials such as <unk>: 1,
    so that steering never decides about them; the sampler has its own rules for those)."""
    mask = key.pitch_classes()
    return np.array([float(np.mean(mask[np.asarray(pitches) % 12])) if pitches else 1.0
                     for pitches in vocabulary_pitches(tokens)], np.float64)
