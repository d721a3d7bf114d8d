"""What a guitarist asks of the sampler besides the model: a key, and no copied runs.

    steering, messages = prepare(run, primer_riff, request)  # key detected or chosen, guard
    logits = steering.adjust(logits, histories, step)       # before sampling.pick_tokens
    steering.messages()                                     # what it had to give up, if any

Key and scale weight the model's log-probabilities: a token loses KEY_WEIGHT_NATS times the
share of its pitches that lie outside the scale (a chord half out of it loses half). "strict"
masks every token with any pitch outside. The originality guard (originality.py) forbids the
tokens that would make K+1 generated tokens in a row a copy from the training songs. Neither
ever masks every token: a row left with none drops the strict mask first, then the guard, and
the result's messages count the steps where that happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from deeprock.generation.originality import MAX_COPY_LIMIT, OriginalityGuard, originality_guard
from deeprock.generation.scales import SCALES, Key, detect_key, in_scale_shares, root_number
from deeprock.generation.stats import vocabulary_pitches

KEY_WEIGHT_NATS = 2.0  # a wholly out-of-scale token: its probability divided by e**2 (7.4)
AUTO, ANY = "auto", "any"
SCALE_CHOICES = (AUTO, ANY, *SCALES)


def check_key_settings(key: str, scale: str, max_copy: int) -> None:
    """A ValueError naming the setting that is out of range."""
    if scale not in SCALE_CHOICES:
        raise ValueError(f"scale {scale!r} is not one of {', '.join(SCALE_CHOICES)}")
    if key != AUTO:
        root_number(key)
    if not 0 <= max_copy <= MAX_COPY_LIMIT:
        raise ValueError(f"the longest copy allowed must be 0 (off) to {MAX_COPY_LIMIT} "
                         f"tokens, not {max_copy}")


def resolve_key(primer_tokens: Sequence[str], key: str, scale: str) -> tuple[Key | None, str]:
    """(the key to steer toward, "primer" or "chosen"); (None, "") for scale "any", or for
    "auto" with no primer notes to hear a key in. What is "auto" is detected from the primer."""
    if scale == ANY:
        return None, ""
    pitches = [pitch for chord in vocabulary_pitches(primer_tokens) for pitch in chord]
    root = None if key == AUTO else root_number(key)
    chosen = root is not None and scale != AUTO
    if chosen and not pitches:
        return Key(root, scale, fit=None), "chosen"
    detected = detect_key(pitches, root, None if scale == AUTO else scale)
    if detected is None and (root is not None or scale != AUTO):
        raise ValueError("the primer has no notes to detect the "
                         f"{'scale' if root is not None else 'key'} from: choose both the key "
                         "and the scale, or a primer")
    return detected, "chosen" if chosen else ("primer" if detected else "")


@dataclass
class Steering:
    """The per-step hook: key bias and mask over the vocabulary, and the guard."""

    key: Key | None = None
    key_source: str = ""  # "primer", "chosen" or "" (no key)
    bias: np.ndarray | None = None  # per token: minus KEY_WEIGHT_NATS x out-of-scale share
    strict: np.ndarray | None = None  # per token: may it be played under "strict"?
    guard: OriginalityGuard | None = None
    gave_up: dict[str, int] = field(default_factory=lambda: {"strict": 0, "guard": 0})

    def adjust(self, logits: np.ndarray, histories: Sequence[Sequence[int]],
               step: int) -> np.ndarray:
        """The rows of logits weighted and masked; `step` generated tokens end each history
        (the primer's tokens before them are not the riff's to copy)."""
        if self.bias is None and self.guard is None:
            return logits
        soft = np.array(logits, np.float64)
        if self.bias is not None:
            soft += self.bias
        forbidden = self._forbidden(histories, step)
        if self.strict is None and forbidden is None:
            return soft
        rows = soft.copy() if self.strict is None else np.where(self.strict, soft, -np.inf)
        if forbidden is not None:
            rows[np.repeat(np.arange(len(rows)), [len(ids) for ids in forbidden]),
                 np.concatenate(forbidden)] = -np.inf
        for row in np.flatnonzero(~np.isfinite(rows[:, 1:]).any(axis=1)):  # <unk> never counts
            rows[row] = self._fallback(soft[row], forbidden[row])
        return rows

    def _forbidden(self, histories: Sequence[Sequence[int]], step: int
                   ) -> list[np.ndarray] | None:
        """Per row, the ids that would complete a copy (None while fewer than K generated)."""
        if self.guard is None or step < self.guard.max_copy:
            return None
        size = self.guard.max_copy
        return self.guard.forbidden(np.array([history[-size:] for history in histories]))

    def _fallback(self, soft: np.ndarray, forbidden: np.ndarray) -> np.ndarray:
        """A row that strict and the guard left empty: without strict, else without the guard
        (strict alone always leaves a token: prepare checks that)."""
        if self.strict is not None:
            guarded = soft.copy()
            guarded[forbidden] = -np.inf
            if np.isfinite(guarded[1:]).any():
                self.gave_up["strict"] += 1
                return guarded
        self.gave_up["guard"] += 1
        return soft if self.strict is None else np.where(self.strict, soft, -np.inf)

    def messages(self) -> list[str]:
        notes = []
        if self.gave_up["strict"]:
            notes.append(f"strict {self.key.name()}: at {self.gave_up['strict']} step(s) every "
                         "in-scale token would have copied the training songs; an "
                         "out-of-scale one was allowed there")
        if self.gave_up["guard"]:
            notes.append(f"the originality guard forbade every token at "
                         f"{self.gave_up['guard']} step(s): the model's choice stood there, "
                         f"so a copy may exceed {self.guard.max_copy} tokens")
        return notes

    def key_report(self) -> dict | None:
        """The key for --json and the page: root, scale, where it came from, primer fit."""
        if self.key is None:
            return None
        return {**self.key.to_dict(), "source": self.key_source}


def prepare(run, primer_tokens: Sequence[str], request) -> tuple[Steering, list[str]]:
    """The steering a GenerationRequest asks for on a LoadedRun, and what to tell the user."""
    messages = []
    key, source = resolve_key(primer_tokens, request.key, request.scale)
    steering = Steering(key, source)
    if key is not None:
        shares = in_scale_shares(run.vocabulary.tokens, key)
        steering.bias = -KEY_WEIGHT_NATS * (1.0 - shares)
        if request.strict:
            playable = shares >= 1.0
            playable[0] = False  # <unk>: never a fallback either
            if playable.any():
                steering.strict = playable
            else:
                messages.append(f"strict: no token of the run's vocabulary lies wholly in "
                                f"{key.name()}; the tokens are only weighted toward it")
    if request.max_copy:
        from deeprock.generation.primers import PrimerError

        try:
            steering.guard = originality_guard(run, request.max_copy)
        except PrimerError as error:
            messages.append(f"the originality guard is off: {error}")
    return steering, messages


def in_key_share(tokens: Sequence[str], key_report: dict | None) -> float | None:
    """Share of the tokens' notes in a reported key (None without a key or notes)."""
    pitches = [pitch for chord in vocabulary_pitches(tokens) for pitch in chord]
    if key_report is None or not pitches:
        return None
    key = Key.parse(key_report["root"], key_report["scale"])
    return float(np.mean(key.pitch_classes()[np.asarray(pitches) % 12]))
