"""Token <-> id, saved as JSON. Its own module: the catalog needs it without the token rules'
compiled code, so a scan with nothing to parse starts without numba."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeprock.atomic import write_atomic


@dataclass
class Vocabulary:
    """Token ↔ id, saved as JSON; ids are stable once given."""

    tokens: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def id(self, token: str) -> int:
        """The token's id, given a new one when the token is new."""
        if token not in self._ids:
            self._ids[token] = len(self.tokens)
            self.tokens.append(token)
        return self._ids[token]

    def ids(self, tokens: list[str]) -> np.ndarray:
        return np.array([self.id(t) for t in tokens], dtype=np.int32)

    def decode(self, ids: np.ndarray) -> list[str]:
        return [self.tokens[i] for i in ids]

    def to_dict(self) -> dict:
        return {"version": 1, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        tokens = data.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError("vocabulary JSON needs a list of token strings under 'tokens'")
        return cls(list(tokens))

    def save(self, path: str | os.PathLike) -> None:
        """Written to a temporary file first, so a crash never leaves half a vocabulary."""
        write_atomic(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
