"""Choosing the next token: temperature, top-k, top-p, a repetition guard, seeded per variation.

    settings = SamplingSettings(temperature=0.9, top_p=0.95).validated()
    rngs = variation_generators(seed=7, variations=8)
    ids = pick_tokens(probabilities, histories, settings, rngs)

The post decoded with argmax, whose classic failure is one note forever; the guard divides the
probability of recently played tokens by `repetition_penalty` and forbids a token already
repeated `max_repeat` times in a row. Every row (variation) has its own numpy Generator and is
picked by the same per-row code, so a batch of variations equals the same variations made one by
one, and the same settings and seed give the same riff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

NUCLEUS_CANDIDATES = 512  # top-p sorts only these when they already hold the nucleus


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.9  # 0: greedy (argmax after the guard)
    top_k: int = 0  # 0: off
    top_p: float = 0.95  # 1: off
    repetition_penalty: float = 1.15  # 1: off
    repetition_window: int = 12  # the last N tokens count as recent
    max_repeat: int = 8  # the same token at most N times in a row (0: no cap)

    def validated(self) -> SamplingSettings:
        """Itself, or a ValueError saying which setting is out of range."""
        if not np.isfinite(self.temperature) or self.temperature < 0:
            raise ValueError(f"temperature must be 0 (greedy) or more, not {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top-p must be in (0, 1], not {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top-k must be 0 (off) or more, not {self.top_k}")
        if self.repetition_penalty < 1:
            raise ValueError(f"the repetition penalty must be 1 (off) or more, not "
                             f"{self.repetition_penalty}")
        if self.repetition_window < 0 or self.max_repeat < 0:
            raise ValueError("the repetition window and the repeat cap must be 0 or more")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def variation_generators(seed: int, variations: int, first: int = 0
                         ) -> list[np.random.Generator]:
    """One independent Generator per variation: variation v of seed s is always the same."""
    return [np.random.default_rng([seed, variation])
            for variation in range(first, first + variations)]


def guarded(probabilities: np.ndarray, history: Sequence[int], settings: SamplingSettings
            ) -> np.ndarray:
    """One row's probabilities after the repetition guard, <unk> (id 0) never chosen."""
    row = np.array(probabilities, dtype=np.float64)
    if len(row) > 1:
        row[0] = 0.0
    if settings.repetition_penalty > 1 and settings.repetition_window and len(history):
        recent = np.unique(np.asarray(history[-settings.repetition_window:], dtype=np.int64))
        row[recent] /= settings.repetition_penalty
    cap = settings.max_repeat
    if cap and len(history) >= cap and len(set(history[-cap:])) == 1:
        row[history[-1]] = 0.0
    if row.sum() <= 0:  # everything forbidden (a tiny vocabulary): fall back to the model
        row = np.array(probabilities, dtype=np.float64)
    return row


def pick(row: np.ndarray, rng: np.random.Generator, temperature: float, top_k: int = 0,
         top_p: float = 1.0) -> int:
    """One id from unnormalised probabilities; one uniform draw from rng per call."""
    draw = rng.random()
    if temperature == 0:
        return int(np.argmax(row))
    candidates = np.flatnonzero(row > 0)
    weights = row[candidates]
    if temperature != 1:
        weights = np.exp((np.log(weights) - np.log(weights.max())) / temperature)
    if top_k and top_k < len(candidates):
        keep = np.argpartition(-weights, top_k - 1)[:top_k]
        candidates, weights = candidates[keep], weights[keep]
    if top_p < 1:
        candidates, weights = _nucleus(candidates, weights, top_p)
    cumulative = np.cumsum(weights)
    index = int(np.searchsorted(cumulative, draw * cumulative[-1], side="right"))
    return int(candidates[min(index, len(candidates) - 1)])


def _nucleus(candidates: np.ndarray, weights: np.ndarray, top_p: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """The smallest most-probable set holding top_p of the mass (ties kept in id order)."""
    total = weights.sum()
    if len(weights) > NUCLEUS_CANDIDATES:
        head = np.argpartition(-weights, NUCLEUS_CANDIDATES - 1)[:NUCLEUS_CANDIDATES]
        if weights[head].sum() < top_p * total:  # the nucleus is wider: sort everything
            head = np.arange(len(weights))
    else:
        head = np.arange(len(weights))
    order = head[np.lexsort((candidates[head], -weights[head]))]
    cumulative = np.cumsum(weights[order])
    size = int(np.searchsorted(cumulative, top_p * total, side="left")) + 1
    keep = order[:size]
    return candidates[keep], weights[keep]


def pick_tokens(probabilities: np.ndarray, histories: Sequence[Sequence[int]],
                settings: SamplingSettings, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """The next token of each variation (row), guarded and sampled row by row."""
    return np.array([pick(guarded(row, history, settings), rng, settings.temperature,
                          settings.top_k, settings.top_p)
                     for row, history, rng in zip(probabilities, histories, rngs, strict=True)],
                    dtype=np.int32)


def pick_classes(probabilities: np.ndarray, allowed: np.ndarray, temperature: float,
                 rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """A rhythm class per row (delta or duration), only among the allowed classes."""
    masked = np.where(allowed, probabilities, 0.0)
    return np.array([pick(row if row.sum() > 0 else allowed.astype(np.float64), rng,
                          temperature) for row, rng in zip(masked, rngs, strict=True)],
                    dtype=np.int32)
