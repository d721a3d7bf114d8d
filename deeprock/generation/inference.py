"""Step-by-step inference in numpy over a run model's saved weights, carrying the LSTM (h, c).

    net = numpy_network(read_keras_weights(path))   # DeeprockNetwork or SeedNetwork (weights.py)
    state = net.initial_state(batch=8)
    logits, hidden, state = net.token_step(token_ids, delta_classes, duration_classes,
                                           position_classes, state, artist_ids)
    softmax(logits)                             # the Keras model's next_token output

A conditioned run (deeprock/training/conditioning.py) also reads each row's artist id at every
step (None: 0, "any artist"); `takes_artists` says whether the network has one.

Why numpy (docs/architecture.md): a step of the Keras model called eagerly is 34 ms (no better than
the post's `model.predict` on the whole window), a `tf.function` at 1.8 ms, the same arithmetic in
numpy at 0.3 ms. The post ran the whole window again for every note; here each step feeds one
token and keeps (h, c), so a step costs the same at token 5 and token 5,000. Layer names are the
contract of deeprock/training/models.py. Keras' LSTM gates are ordered i, f, c, o. The weights
come from the .keras archive itself (weights.py), so generating never imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprock.generation.attention_inference import TransformerNetwork
from deeprock.generation.heads import RhythmHeads
from deeprock.generation.weights import SavedWeights, folded_inputs

State = list[tuple[np.ndarray, np.ndarray]]  # (h, c) per layer, each (batch, units)
EPSILON = 1e-7  # keras.config.epsilon(), the floor of the seed model's Normalization


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1/(1+e^-x), without overflow warnings


@dataclass
class LstmWeights:
    kernel: np.ndarray  # (inputs, 4 units)
    recurrent: np.ndarray  # (units, 4 units)
    bias: np.ndarray  # (4 units,)

    @property
    def units(self) -> int:
        return self.recurrent.shape[0]

    def step(self, projected: np.ndarray, h: np.ndarray, c: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """One time step from the input already multiplied by the kernel (plus bias)."""
        z = projected + h @ self.recurrent
        units = self.units
        i = _sigmoid(z[:, :units])
        f = _sigmoid(z[:, units:2 * units])
        g = np.tanh(z[:, 2 * units:3 * units])
        o = _sigmoid(z[:, 3 * units:])
        c = f * c + i * g
        return o * np.tanh(c), c


def _lstm(saved: SavedWeights, name: str) -> LstmWeights:
    config = saved.configs.get(name, {})
    if config.get("activation") != "tanh" or config.get("recurrent_activation") != "sigmoid":
        raise ValueError(f"layer {name} is not a tanh/sigmoid LSTM: numpy inference reads only "
                         "the architectures of deeprock/training/models.py")
    kernel, recurrent, bias = (np.asarray(w, np.float32) for w in saved.weights[name])
    return LstmWeights(kernel, recurrent, bias)


def _dense(saved: SavedWeights, name: str) -> tuple[np.ndarray, np.ndarray]:
    kernel, bias = saved.weights[name]
    return np.asarray(kernel, np.float32), np.asarray(bias, np.float32)


class _Stacked:
    """Stacked LSTMs: the part both architectures share."""

    lstms: list[LstmWeights]

    def initial_state(self, batch: int = 1) -> State:
        return [(np.zeros((batch, w.units), np.float32), np.zeros((batch, w.units), np.float32))
                for w in self.lstms]

    def _run(self, projected_first: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        new_state = []
        x = None
        for layer, (weights, (h, c)) in enumerate(zip(self.lstms, state, strict=True)):
            projected = projected_first if layer == 0 else x @ weights.kernel + weights.bias
            h, c = weights.step(projected, h, c)
            new_state.append((h, c))
            x = h
        return x, new_state


class DeeprockNetwork(_Stacked):
    """The "deeprock" architecture: token + delta + duration (+ bar position) embeddings in,
    three heads out.

    The embeddings are folded into the first LSTM's kernel once (a table lookup per step
    instead of a matrix product), and the token embedding into the rhythm context's kernel.
    A run trained before bar positions has no position embedding: its positions are ignored;
    a run without conditioning has no artist embedding: its artist ids are ignored.
    """

    arch = "deeprock"

    def __init__(self, saved: SavedWeights) -> None:
        layers = sorted(name for name in saved.weights if name.startswith("lstm_"))
        self.lstms = [_lstm(saved, name) for name in layers]
        # the first kernel's rows, in models._joined_inputs' order: token, delta, duration,
        # position, artist; each embedding times its rows is that input's share
        inputs = folded_inputs(saved, self.lstms[0].kernel)
        tokens = np.asarray(saved.weights["token_embedding"][0], np.float32)
        self.token_input = inputs["token"] + self.lstms[0].bias
        self.delta_input, self.duration_input = inputs["delta"], inputs["duration"]
        self.position_input = inputs.get("position")
        self.artist_input = inputs.get("artist")
        self.token_kernel, self.token_bias = _dense(saved, "next_token")
        context_kernel, context_bias = _dense(saved, "rhythm_context")
        units = self.lstms[-1].units
        self.rhythm = RhythmHeads.read(saved, context_kernel[:units],
                                       tokens @ context_kernel[units:], context_bias)

    @property
    def vocabulary_size(self) -> int:
        return self.token_kernel.shape[1]

    @property
    def takes_positions(self) -> bool:
        return self.position_input is not None

    @property
    def takes_artists(self) -> bool:
        return self.artist_input is not None

    def token_step(self, token_ids: np.ndarray, delta_classes: np.ndarray,
                   duration_classes: np.ndarray, position_classes: np.ndarray, state: State,
                   artist_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, State]:
        """Feed one token per batch row: next-token logits (the sampler works on them; softmax
        gives the Keras model's probabilities), the top LSTM output (for the rhythm heads)
        and the new state. position_classes: each token's bar position (vocab.position_classes);
        artist_ids: each row's artist (None: "any")."""
        projected = (self.token_input[token_ids] + self.delta_input[delta_classes]
                     + self.duration_input[duration_classes])
        if self.position_input is not None:
            projected = projected + self.position_input[position_classes]
        if self.artist_input is not None:
            projected = projected + self.artist_input[0 if artist_ids is None else artist_ids]
        hidden, state = self._run(projected, state)
        return hidden @ self.token_kernel + self.token_bias, hidden, state


class SeedNetwork(_Stacked):
    """The post's network: a scaled run id in, LSTM → LSTM → Dense → softmax (dropout off)."""

    arch = "seed"

    def __init__(self, saved: SavedWeights) -> None:
        scale = saved.configs["scale"]
        self.mean = float(np.asarray(scale["mean"]).ravel()[0])
        self.std = max(float(np.sqrt(np.asarray(scale["variance"]).ravel()[0])), EPSILON)
        self.lstms = [_lstm(saved, "lstm_0"), _lstm(saved, "lstm_1")]
        self.dense_kernel, self.dense_bias = _dense(saved, "dense")
        self.token_kernel, self.token_bias = _dense(saved, "next_token")

    @property
    def vocabulary_size(self) -> int:
        return self.token_kernel.shape[1]

    def token_step(self, token_ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """Next-token logits after feeding one run id per row, and the new state."""
        scaled = ((np.asarray(token_ids, np.float32) - self.mean) / self.std)[:, None]
        first = self.lstms[0]
        hidden, state = self._run(scaled @ first.kernel + first.bias, state)
        dense = hidden @ self.dense_kernel + self.dense_bias
        return dense @ self.token_kernel + self.token_bias, state


def numpy_network(saved: SavedWeights, context: int | None = None
                  ) -> DeeprockNetwork | SeedNetwork | TransformerNetwork:
    """The numpy twin of a saved run model (its name says the architecture); context: the
    transformer's window (the run's seq_len; the .keras file does not say it)."""
    if saved.model_name == "deeprock":
        return DeeprockNetwork(saved)
    if saved.model_name == "seed":
        return SeedNetwork(saved)
    if saved.model_name == "transformer":
        return TransformerNetwork(saved, context) if context else TransformerNetwork(saved)
    raise ValueError(f"model {saved.model_name!r} is not a 'seed', 'deeprock' or "
                     "'transformer' run model")


def broadcast_state(state: State, batch: int) -> State:
    """A batch-1 state (after the primer) copied for `batch` variations."""
    return [(np.repeat(h, batch, axis=0), np.repeat(c, batch, axis=0)) for h, c in state]
