"""A generated riff: tokens with their rhythm, the part that came from the primer, JSON.

    riff = Riff(["E2 B2", "G2 D3"], np.array([0, 6]), np.array([6, 6]), primer_length=1)
    riff.onsets_twelfths()   # [0, 6]
    Riff.from_dict(riff.to_dict()) == riff

Tokens are music/tokens.py's ('E4', 'E2 B2 E3'); rhythm in twelfths of a quarter, as the catalog's
streams: delta is the time since the previous token's onset (0 for the first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprock.music.tokens import token_pitches


@dataclass(eq=False)
class Riff:
    tokens: list[str]
    delta_twelfths: np.ndarray
    duration_twelfths: np.ndarray
    primer_length: int = 0  # the first primer_length tokens are the primer, not generated

    def __post_init__(self) -> None:
        self.delta_twelfths = np.asarray(self.delta_twelfths, dtype=np.int64)
        self.duration_twelfths = np.asarray(self.duration_twelfths, dtype=np.int64)
        count = len(self.tokens)
        if len(self.delta_twelfths) != count or len(self.duration_twelfths) != count:
            raise ValueError(f"a riff of {count} tokens needs {count} deltas and durations, not "
                             f"{len(self.delta_twelfths)} and {len(self.duration_twelfths)}")
        if count and (self.delta_twelfths.min() < 0 or self.duration_twelfths.min() < 1):
            raise ValueError("riff deltas must be >= 0 and durations >= 1 twelfth")
        if not 0 <= self.primer_length <= count:
            raise ValueError(f"primer_length {self.primer_length} is outside 0..{count}")

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Riff) and self.tokens == other.tokens
                and self.primer_length == other.primer_length
                and np.array_equal(self.delta_twelfths, other.delta_twelfths)
                and np.array_equal(self.duration_twelfths, other.duration_twelfths))

    def __len__(self) -> int:
        return len(self.tokens)

    def onsets_twelfths(self) -> np.ndarray:
        """Onset of each token from the riff's start (the first delta counts from 0)."""
        return np.cumsum(self.delta_twelfths)

    def end_twelfths(self) -> int:
        """When the last sounding token stops: the riff's length."""
        if not self.tokens:
            return 0
        return int((self.onsets_twelfths() + self.duration_twelfths).max())

    def chords(self) -> list[list[int]]:
        """MIDI pitches of each token, ascending: a note is a chord of one."""
        return [token_pitches(token) for token in self.tokens]

    def generated_onset_twelfths(self) -> int:
        """Where the generated part starts (the riff's end when nothing was generated)."""
        if self.primer_length == len(self.tokens):
            return self.end_twelfths()
        return int(self.onsets_twelfths()[self.primer_length])

    def generated(self) -> Riff:
        """The generated part alone, its first token at the onset it had in the whole riff."""
        start = self.primer_length
        delta = self.delta_twelfths[start:].copy()
        if len(delta):
            delta[0] = self.generated_onset_twelfths()
        return Riff(self.tokens[start:], delta, self.duration_twelfths[start:])

    def primer(self) -> Riff:
        """The primer part alone."""
        end = self.primer_length
        return Riff(self.tokens[:end], self.delta_twelfths[:end], self.duration_twelfths[:end])

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens), "delta_twelfths": self.delta_twelfths.tolist(),
                "duration_twelfths": self.duration_twelfths.tolist(),
                "primer_length": self.primer_length}

    @classmethod
    def from_dict(cls, data: dict) -> Riff:
        return cls(list(data["tokens"]), np.asarray(data["delta_twelfths"], np.int64),
                   np.asarray(data["duration_twelfths"], np.int64),
                   int(data.get("primer_length", 0)))
