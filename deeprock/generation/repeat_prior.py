"""The bar-period copy prior: favour playing again what the riff played one bar ago.

    prior = RepeatPrior.start(bias=2.0, period_twelfths=48, onsets=primer_onsets,
                              ids=primer_ids, batch=4)
    logits = prior.tokens(logits)            # + bias on each row's token of a bar ago
    delta_logits = prior.deltas(delta_logits)  # + bias on the gap that lands on its onset
    prior.advance(chosen_ids, chosen_deltas)

Real riffs repeat whole bars (0.43 of a guitar part's bars equal an earlier one, issue 14);
the sampled model comes back to its figure with a note or two moved, so exact repeats stay at 0
without help. One period (a bar, or two for a two-bar figure) before the last onset lies a
point of the riff's own past; the first event after that point is what the next event would be
if the riff repeated itself: its token and the gap that puts the next onset one period after
it get `bias` nats more. The riff's own past is the primer and what was generated, never the
training songs: the originality guard's forbidden tokens (-inf) stay forbidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NO_PROPOSAL = -1


@dataclass
class RepeatPrior:
    bias: float  # nats added to the proposed token and delta
    period: int  # twelfths: one bar of the meter, or a figure of several bars
    onsets: np.ndarray  # (batch, capacity): every event's onset, twelfths from the riff start
    ids: np.ndarray  # (batch, capacity): every event's token id
    count: int  # events so far (the same in every row)
    # proposals() of the current count: the token and the delta heads of one step ask for it
    _proposed: tuple[int, tuple[np.ndarray, np.ndarray]] | None = field(default=None,
                                                                         repr=False)

    @classmethod
    def start(cls, bias: float, period_twelfths: int, onsets: np.ndarray, ids: np.ndarray,
              batch: int, steps: int) -> RepeatPrior:
        """A prior over `batch` rows that share the primer's (or the first token's) events and
        will receive `steps` more."""
        known = len(ids)
        table = np.zeros((2, batch, known + steps), np.int64)
        table[0, :, :known], table[1, :, :known] = onsets, ids
        return cls(float(bias), int(period_twelfths), table[0], table[1], known)

    def proposals(self) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the token a period ago and the gap that repeats its onset (NO_PROPOSAL
        where the riff does not reach a period back yet); worked out once per step."""
        if self._proposed is None or self._proposed[0] != self.count:
            self._proposed = self.count, self._propose()
        return self._proposed[1]

    def _propose(self) -> tuple[np.ndarray, np.ndarray]:
        tokens = np.full(len(self.ids), NO_PROPOSAL, np.int64)
        gaps = np.full(len(self.ids), NO_PROPOSAL, np.int64)
        if not self.count:
            return tokens, gaps
        for row, (onsets, ids) in enumerate(zip(self.onsets[:, :self.count],
                                                self.ids[:, :self.count], strict=True)):
            back = onsets[-1] - self.period
            if onsets[0] <= back:
                ago = int(np.searchsorted(onsets, back, side="right"))
                tokens[row], gaps[row] = ids[ago], onsets[ago] - back
        return tokens, gaps

    def tokens(self, logits: np.ndarray) -> np.ndarray:
        """The token logits with the bias on each row's token of a period ago (bias 0: the
        very same array, so a riff without the prior is the riff from before it)."""
        return self._favoured(logits, 0)

    def deltas(self, logits: np.ndarray) -> np.ndarray:
        """The delta-class logits with the bias on the gap that repeats a period ago."""
        return self._favoured(logits, 1)

    def _favoured(self, logits: np.ndarray, which: int) -> np.ndarray:
        """logits + bias at the proposed column of each row (none where NO_PROPOSAL)."""
        if not self.bias:
            return logits
        columns = self.proposals()[which]
        rows = np.array(logits, np.float64)
        chosen = np.flatnonzero((columns != NO_PROPOSAL) & (columns < rows.shape[1]))
        rows[chosen, columns[chosen]] += self.bias
        return rows

    def advance(self, ids: np.ndarray, deltas: np.ndarray) -> None:
        """Append the chosen events (delta: twelfths after each row's last onset)."""
        last = self.onsets[:, self.count - 1] if self.count else 0
        self.onsets[:, self.count] = last + np.asarray(deltas, np.int64)
        self.ids[:, self.count] = ids
        self.count += 1

