"""Choosing the next token from logits: temperature, top-k, top-p, a repetition guard, seeds.

    settings = SamplingSettings(temperature=0.9, top_p=0.95).validated()
    rngs = variation_generators(seed=7, variations=8)
    ids = pick_tokens(logits, histories, settings, rngs)

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

NUCLEUS_FLOOR = 1e-4  # top-p first sorts the tokens within this factor of the best one
DEFAULT_REPEAT_BIAS = 6.0  # bench/RESULTS.md "A bar-period copy prior" chose both (6: with
# the transposed training of the default runs, 5 left exact repeats at 0.29)
DEFAULT_REPEAT_BARS = 2
MAX_REPEAT_BIAS = 10.0
MAX_REPEAT_BARS = 4
BEFORE_REPEAT_PRIOR = {"repeat_bias": 0.0}  # what a settings.json without it meant


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.9  # 0: greedy (argmax after the guard)
    top_k: int = 0  # 0: off
    top_p: float = 0.95  # 1: off
    repetition_penalty: float = 1.15  # 1: off
    repetition_window: int = 12  # the last N tokens count as recent
    max_repeat: int = 8  # the same token at most N times in a row (0: no cap)
    repeat_bias: float = DEFAULT_REPEAT_BIAS  # nats for repeating the bar (0: off)
    repeat_bars: int = DEFAULT_REPEAT_BARS  # the figure repeated: 1 bar, 2 for a two-bar one

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
        if not 0 <= self.repeat_bias <= MAX_REPEAT_BIAS:
            raise ValueError(f"the repeat bias must be 0 (off) to {MAX_REPEAT_BIAS:g} nats, "
                             f"not {self.repeat_bias}")
        if not 1 <= self.repeat_bars <= MAX_REPEAT_BARS:
            raise ValueError(f"the repeated figure must be 1 to {MAX_REPEAT_BARS} bars, not "
                             f"{self.repeat_bars}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def variation_generators(seed: int, variations: int, first: int = 0
                         ) -> list[np.random.Generator]:
    """One independent Generator per variation: variation v of seed s is always the same."""
    return [np.random.default_rng([seed, variation])
            for variation in range(first, first + variations)]


def guarded(logits: np.ndarray, history: Sequence[int], settings: SamplingSettings
            ) -> np.ndarray:
    """One row's log-scores after the repetition guard (a penalty divides a probability, so
    it subtracts its log; a forbidden token scores -inf); <unk> (id 0) is never chosen."""
    row = np.array(logits, dtype=np.float64)
    if len(row) > 1:
        row[0] = -np.inf
    if settings.repetition_penalty > 1 and settings.repetition_window and len(history):
        recent = np.unique(np.asarray(history[-settings.repetition_window:], dtype=np.int64))
        row[recent] -= np.log(settings.repetition_penalty)
    cap = settings.max_repeat
    if cap and len(history) >= cap and len(set(history[-cap:])) == 1:
        row[history[-1]] = -np.inf
    if not np.isfinite(row).any():  # everything forbidden (a tiny vocabulary): the model's
        row = np.array(logits, dtype=np.float64)
    return row


def pick(scores: np.ndarray, rng: np.random.Generator, temperature: float, top_k: int = 0,
         top_p: float = 1.0) -> int:
    """One id from log-scores (logits, -inf = never); one uniform draw from rng per call."""
    return int(pick_rows(np.asarray(scores, np.float64)[None], np.array([rng.random()]),
                         temperature, top_k, top_p)[0])


def pick_rows(scores: np.ndarray, draws: np.ndarray, temperature: float, top_k: int = 0,
              top_p: float = 1.0) -> np.ndarray:
    """One id per row of log-scores, row by row in effect (every operation works along its
    row alone), vectorised over the rows; draws: one uniform per row."""
    if temperature == 0:
        return np.argmax(scores, axis=1)
    weights = np.exp((scores - scores.max(axis=1, keepdims=True)) / temperature)
    if top_k and top_k < scores.shape[1]:
        weights = _keep(weights, np.argpartition(-weights, top_k - 1, axis=1)[:, :top_k])
    if top_p < 1:
        weights = _nucleus(weights, top_p)
    cumulative = np.cumsum(weights, axis=1)
    targets = draws * cumulative[:, -1]
    return (cumulative <= targets[:, None]).sum(axis=1)


def _keep(weights: np.ndarray, columns: np.ndarray) -> np.ndarray:
    kept = np.zeros_like(weights)
    np.put_along_axis(kept, columns, np.take_along_axis(weights, columns, axis=1), axis=1)
    return kept


def _nucleus(weights: np.ndarray, top_p: float) -> np.ndarray:
    """Each row's smallest most-probable set holding top_p of its mass (ties in id order).

    Rows come scaled to a best weight of 1. Only the tokens above NUCLEUS_FLOOR are sorted
    when they already hold top_p of the mass: then the nucleus is among them, since every
    other token weighs less. A trained model's nucleus is a few dozen tokens; sorting the
    whole vocabulary every step would cost more than the forward pass."""
    kept = np.zeros_like(weights)
    for row, out in zip(weights, kept, strict=True):
        total = row.sum()
        columns = np.flatnonzero(row >= NUCLEUS_FLOOR)
        if row[columns].sum() < top_p * total:
            columns = np.arange(len(row))
        ordered = columns[np.argsort(-row[columns], kind="stable")]
        size = int(np.searchsorted(np.cumsum(row[ordered]), top_p * total, side="left")) + 1
        out[ordered[:size]] = row[ordered[:size]]
    return kept


def pick_tokens(logits: np.ndarray, histories: Sequence[Sequence[int]],
                settings: SamplingSettings, rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """The next token of each variation (row): guarded row by row, then sampled."""
    rows = np.stack([guarded(row, history, settings)
                     for row, history in zip(logits, histories, strict=True)])
    draws = np.array([rng.random() for rng in rngs])
    return pick_rows(rows, draws, settings.temperature, settings.top_k,
                     settings.top_p).astype(np.int32)


def pick_classes(logits: np.ndarray, allowed: np.ndarray, temperature: float,
                 rngs: Sequence[np.random.Generator]) -> np.ndarray:
    """A rhythm class per row (delta or duration), only among the allowed classes."""
    masked = np.where(allowed, logits, -np.inf).astype(np.float64)
    draws = np.array([rng.random() for rng in rngs])
    return pick_rows(masked, draws, temperature).astype(np.int32)


def log_counts(counts: np.ndarray) -> np.ndarray:
    """Counts as log-scores (a count of 0: never)."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(counts, np.float64))
