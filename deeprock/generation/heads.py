"""What the numpy twins of the "deeprock" and "transformer" models share: softmax and the
rhythm heads (training/models.py builds both models' heads the same way)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprock.generation.weights import SavedWeights


def softmax(logits: np.ndarray) -> np.ndarray:
    """Over the last axis."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@dataclass
class RhythmHeads:
    """relu(hidden @ context_hidden + the chosen token's embedding @ its kernel part + bias),
    then the delta and duration heads; called as `net.rhythm(hidden, next_ids)`."""

    context_hidden: np.ndarray
    context_token: np.ndarray  # the token embedding already multiplied by its kernel part
    context_bias: np.ndarray
    delta: tuple[np.ndarray, np.ndarray]
    duration: tuple[np.ndarray, np.ndarray]

    @classmethod
    def read(cls, saved: SavedWeights, context_hidden: np.ndarray, context_token: np.ndarray,
             context_bias: np.ndarray) -> RhythmHeads:
        dense = [tuple(np.asarray(w, np.float32) for w in saved.weights[name])
                 for name in ("next_delta", "next_duration")]
        return cls(context_hidden, context_token, context_bias, *dense)

    def __call__(self, hidden: np.ndarray, next_ids: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Delta and duration class logits of the token chosen to come next."""
        context = np.maximum(hidden @ self.context_hidden + self.context_token[next_ids]
                             + self.context_bias, 0.0)
        return (context @ self.delta[0] + self.delta[1],
                context @ self.duration[0] + self.duration[1])
