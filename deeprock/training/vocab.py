"""A run's frozen vocabulary (vocab.json): tokens seen often enough on the training side, rhythm
as classes. Frozen per run so that a rescan or a changed selection never breaks saved weights
(the classic shape error of a vocabulary rebuilt from changed data).

    vocab = RunVocabulary.from_counts(catalog_tokens, counts, min_count=2)
    run_ids = vocab.lookup(catalog_tokens)[catalog_ids]   # catalog ids → run ids, <unk> = 0
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeprock.atomic import write_atomic

UNK = "<unk>"
FORMAT_VERSION = 1
# Rhythm classes: 0 .. MAX_RHYTHM_TWELFTHS exactly, then one "longer" class. 192 twelfths are
# 4 bars of 4/4: a rest longer than that is a new section, not a rhythm.
MAX_RHYTHM_TWELFTHS = 192
RHYTHM_CLASSES = MAX_RHYTHM_TWELFTHS + 2
LONGER = RHYTHM_CLASSES - 1
# A token's position in its bar, in twelfths from the bar line: 96 covers bars up to 8 quarters
# (4/4 is 48, 12/8 is 72).
POSITION_CLASSES = 96


def position_classes(twelfths: np.ndarray) -> np.ndarray:
    """Position in the bar → class (bars longer than POSITION_CLASSES twelfths share the last)."""
    return np.clip(np.asarray(twelfths), 0, POSITION_CLASSES - 1).astype(np.int32)


def rhythm_classes(twelfths: np.ndarray) -> np.ndarray:
    """Time in twelfths → class (the value itself up to 4 bars, LONGER beyond)."""
    return np.clip(np.asarray(twelfths), 0, LONGER).astype(np.int32)


@dataclass
class RunVocabulary:
    """Token strings by run id; id 0 is <unk>. counts: training-side occurrences per id."""

    tokens: list[str]
    counts: list[int]
    min_count: int
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.tokens or self.tokens[0] != UNK:
            raise ValueError(f"a run vocabulary starts with {UNK}")
        if len(self.counts) != len(self.tokens):
            raise ValueError("a run vocabulary needs one count per token")
        self._ids = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def from_counts(cls, tokens: list[str], counts: np.ndarray, min_count: int) -> RunVocabulary:
        """Tokens (catalog vocabulary order) with at least min_count training occurrences, most
        frequent first; the rest fold into <unk>, whose count is theirs summed."""
        counts = np.asarray(counts, dtype=np.int64)
        frequent = [i for i in np.argsort(-counts, kind="stable") if counts[i] >= min_count]
        unk_count = int(counts.sum() - counts[frequent].sum())
        return cls([UNK] + [tokens[i] for i in frequent],
                   [unk_count] + [int(counts[i]) for i in frequent], min_count)

    def id(self, token: str) -> int:
        return self._ids.get(token, 0)

    def lookup(self, tokens: list[str]) -> np.ndarray:
        """For another vocabulary's token list: its id → this run's id (0 when unknown)."""
        return np.array([self.id(t) for t in tokens], dtype=np.int32)

    def decode(self, ids: np.ndarray) -> list[str]:
        return [self.tokens[i] for i in ids]

    def to_dict(self) -> dict:
        return {"version": FORMAT_VERSION, "tokens": self.tokens, "counts": self.counts,
                "min_count": self.min_count, "max_rhythm_twelfths": MAX_RHYTHM_TWELFTHS,
                "rhythm_classes": RHYTHM_CLASSES}

    @classmethod
    def from_dict(cls, data: dict) -> RunVocabulary:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"vocabulary format {data.get('version')!r}, expected "
                             f"{FORMAT_VERSION}: this run was made by another version")
        if data.get("rhythm_classes") != RHYTHM_CLASSES:
            raise ValueError(f"vocabulary has {data.get('rhythm_classes')} rhythm classes, this "
                             f"version uses {RHYTHM_CLASSES}")
        return cls(list(data["tokens"]), [int(c) for c in data["counts"]],
                   int(data["min_count"]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunVocabulary) and self.to_dict() == other.to_dict()

    def save(self, path: str | os.PathLike) -> None:
        write_atomic(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunVocabulary:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"cannot read vocabulary {path}: {error}") from error
