"""The "transformer" run model's numpy twin: one token a step over a key/value cache.

    net = TransformerNetwork(read_keras_weights(path), context=256)   # or numpy_network(saved)
    state = net.initial_state(batch=8)
    logits, hidden, state = net.token_step(tokens, deltas, durations, positions, state, artists)
    delta_logits, duration_logits = net.rhythm(hidden, chosen_tokens)

Each step feeds one token per row: its keys and values are computed once and kept, and its
query attends over them, so a step costs the dense layers plus one pass over at most `context`
cached tokens, where the Keras model runs its whole window again.

Past `context` tokens the window restarts from its newest half, recomputed in one batched pass,
so generation goes on for thousands of tokens at a constant cost (amortized: one pass over
context / 2 tokens every context / 2 steps). Every prediction equals the Keras model's on the
last k tokens alone, context / 2 < k <= context, and within the context on the whole sequence
(tests/test_attention_inference.py, to 1e-5); that is how it differs from a Keras forward pass
over a longer sequence, which attends to every earlier token. Simply dropping the oldest key and
value would be cheaper but matches no forward pass: rotary scores depend only on distances, yet
from the second block on a cached key carries the tokens before the window (measured: up to
1.5e-2 in probability on the test's 2-block model), and a model trained on windows that start
from nothing leans on the window's first token, which a plain sliding window evicts
(StreamingLLM, Xiao et al. 2023: window attention breaks down then; recomputing holds).
Positions are places in the window, never past the context, with Keras' own float32 angles: no
drift however long the riff.

Why numpy, not a compiled step (bench/RESULTS.md, "Transformer step"): at batch 1 a step reads
its weights once in a few matrix-vector products, which numpy computes as fast as a jax.jit
(0.2-0.3 ms at the default size) and a tf.function is slower; ~1 ms of CPU a step in all, 500
tokens in about 0.5 s, and no 3.7 s JAX import. Layer names are the contract of
deeprock/training/models.py; the attention's arithmetic is deeprock/training/transformer.py's.
"""

from __future__ import annotations

import numpy as np

from deeprock.generation.heads import RhythmHeads, softmax
from deeprock.generation.weights import SavedWeights, folded_inputs

State = list[tuple[np.ndarray, np.ndarray]]  # see TransformerNetwork.initial_state
DEFAULT_CONTEXT = 256  # tokens of attention: about 16 bars of a typical riff
CLASSES = ("delta", "duration", "position", "artist")  # a window's per-token columns


def _arrays(saved: SavedWeights, name: str) -> list[np.ndarray]:
    return [np.asarray(array, np.float32) for array in saved.weights[name]]


def _standardize(x: np.ndarray, epsilon: float) -> np.ndarray:
    """A layer norm without its scale and shift (those are folded into the next kernel)."""
    centered = x - x.mean(axis=-1, keepdims=True)
    return centered / np.sqrt(np.square(centered).mean(axis=-1, keepdims=True) + epsilon)


def _fold_norm(norm: list[np.ndarray], kernel: np.ndarray, bias: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """(z * gamma + beta) @ kernel + bias as z @ kernel' + bias': two operations a step fewer."""
    gamma, beta = norm
    return gamma[:, None] * kernel, beta @ kernel + bias


def _silu(x: np.ndarray) -> np.ndarray:
    return x * (0.5 * (np.tanh(0.5 * x) + 1.0))  # x * sigmoid(x), without overflow warnings


def _swapped(columns: np.ndarray, slices: int) -> np.ndarray:
    """Each head slice's halves (first, second) as (-second, first): the rotation of x is then
    x * cos + swapped(x) * sin (GPT-NeoX's pairs, as CausalSelfAttention rotates them)."""
    halves = columns.reshape(*columns.shape[:-1], slices, 2, -1)
    return np.stack([-halves[..., 1, :], halves[..., 0, :]], axis=-2).reshape(columns.shape)


def _heads(x: np.ndarray, heads: int) -> np.ndarray:
    """(batch, tokens, width) as (batch, heads, tokens, width / heads)."""
    batch, tokens, width = x.shape
    return x.reshape(batch, tokens, heads, width // heads).transpose(0, 2, 1, 3)


class _Block:
    """One pre-norm block: x + attention(norm(x)), then x + feed-forward(norm(x)).

    The query and key columns come twice, the second time swapped (`_swapped`), so that the
    rotation is two products and a sum over one array instead of splits and concatenations.
    """

    def __init__(self, saved: SavedWeights, name: str) -> None:
        self.heads = int(saved.configs[f"{name}_attention"]["heads"])
        self.epsilon = float(saved.configs[f"{name}_attention_norm"]["epsilon"])
        qkv_kernel, qkv_bias, self.output_kernel, self.output_bias = _arrays(
            saved, f"{name}_attention")
        self.width = qkv_kernel.shape[0]
        query_key = slice(0, 2 * self.width)
        kernel = np.concatenate([qkv_kernel, _swapped(qkv_kernel[:, query_key], 2 * self.heads)],
                                axis=1)
        bias = np.concatenate([qkv_bias, _swapped(qkv_bias[query_key], 2 * self.heads)])
        attention_norm = _arrays(saved, f"{name}_attention_norm")
        self.qkv_kernel, self.qkv_bias = _fold_norm(attention_norm, kernel, bias)
        self.ff_in_kernel, self.ff_in_bias = _fold_norm(_arrays(saved, f"{name}_ff_norm"),
                                                        *_arrays(saved, f"{name}_ff_in"))
        self.ff_out_kernel, self.ff_out_bias = _arrays(saved, f"{name}_ff_out")

    def run(self, x: np.ndarray, keys: np.ndarray, values: np.ndarray, cos: np.ndarray,
            sin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x (batch, new tokens, width) after the cached ones: keys rotated (batch, heads, size,
        tokens), values (batch, heads, tokens, size); cos and sin by place in the window."""
        batch, steps, width = x.shape
        cached = values.shape[2]
        projected = _standardize(x, self.epsilon) @ self.qkv_kernel + self.qkv_bias
        places = slice(cached, cached + steps)
        rotated = (projected[..., :2 * width] * cos[places]
                   + projected[..., 3 * width:] * sin[places])
        keys = np.concatenate([keys, _heads(rotated[..., width:], self.heads).transpose(
            0, 1, 3, 2)], axis=3)
        values = np.concatenate([values, _heads(projected[..., 2 * width:3 * width],
                                                self.heads)], axis=2)
        scores = _heads(rotated[..., :width], self.heads) @ keys / np.float32(
            (width // self.heads) ** 0.5)
        if steps > 1:  # a new token sees the cache and the new tokens up to itself
            seen = np.arange(cached + steps) <= np.arange(cached, cached + steps)[:, None]
            scores = np.where(seen, scores, -np.inf)
        mixed = (softmax(scores) @ values).transpose(0, 2, 1, 3).reshape(batch, steps, width)
        x = x + mixed @ self.output_kernel + self.output_bias
        hidden = _silu(_standardize(x, self.epsilon) @ self.ff_in_kernel + self.ff_in_bias)
        return x + hidden @ self.ff_out_kernel + self.ff_out_bias, keys, values


class TransformerNetwork:
    """The "transformer" architecture: token, delta, duration, bar position (and a conditioned
    run's artist) in; three heads.

    The embeddings are folded into the input projection once (a table lookup per step instead
    of a matrix product), and the token embedding into the rhythm context's kernel.
    """

    arch = "transformer"

    def __init__(self, saved: SavedWeights, context: int = DEFAULT_CONTEXT) -> None:
        if context < 2:
            raise ValueError(f"a transformer's context must be at least 2 tokens, not {context}")
        self.context = context
        kernel, bias = _arrays(saved, "joined_projection")
        # token first, then the classes a window keeps per token: delta, duration, position
        # and, conditioned, artist (initial_state's columns)
        self.inputs = list(folded_inputs(saved, kernel).values())
        self.inputs[0] += bias
        token_table = _arrays(saved, "token_embedding")[0]
        count = len({name for name in saved.weights if name.endswith("_attention")})
        self.blocks = [_Block(saved, f"block_{index}") for index in range(count)]
        final_norm, width = _arrays(saved, "final_norm"), kernel.shape[1]
        self.epsilon = float(saved.configs["final_norm"]["epsilon"])
        self.token_kernel, self.token_bias = _fold_norm(final_norm, *_arrays(saved, "next_token"))
        context_kernel, context_bias = _arrays(saved, "rhythm_context")
        context_hidden, context_bias = _fold_norm(final_norm, context_kernel[:width],
                                                  context_bias)
        self.rhythm = RhythmHeads.read(saved, context_hidden,
                                       token_table @ context_kernel[width:], context_bias)
        heads = self.blocks[0].heads
        self.size = width // heads
        rope_base = float(saved.configs["block_0_attention"]["rope_base"])
        self.cos, self.sin = _rotation(context, heads, self.size, rope_base)

    @property
    def vocabulary_size(self) -> int:
        return self.token_kernel.shape[1]

    @property
    def takes_artists(self) -> bool:
        return len(self.inputs) > len(CLASSES)

    def initial_state(self, batch: int = 1) -> State:
        """No token seen. The state, batch first (broadcast_state copies it per variation): per
        block the window's rotated keys (batch, heads, size, tokens) and values (batch, heads,
        tokens, size), then the window itself, its token ids and (delta, duration, position,
        artist) classes, which a restart recomputes from."""
        heads = self.blocks[0].heads
        return [(np.zeros((batch, heads, self.size, 0), np.float32),
                 np.zeros((batch, heads, 0, self.size), np.float32)) for _ in self.blocks] + [
            (np.zeros((batch, 0), np.int32), np.zeros((batch, 0, len(CLASSES)), np.int32))]

    def token_step(self, token_ids: np.ndarray, delta_classes: np.ndarray,
                   duration_classes: np.ndarray, position_classes: np.ndarray, state: State,
                   artist_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, State]:
        """Feed one token per batch row: next-token logits (softmax gives the Keras model's
        probabilities), the last block's output standardized (the final norm's scale and shift are
        in the heads' kernels: `rhythm` takes it) and the new state. artist_ids: each row's
        artist (None: 0, "any"; ignored by a run without conditioning)."""
        *caches, (window_tokens, window_classes) = state
        artists = np.zeros_like(delta_classes) if artist_ids is None else artist_ids
        classes = np.stack(np.broadcast_arrays(delta_classes, duration_classes, position_classes,
                                               artists), axis=-1)
        window_tokens = np.concatenate([window_tokens, np.asarray(token_ids)[:, None]], axis=1)
        window_classes = np.concatenate([window_classes, classes[:, None]], axis=1)
        new = slice(-1, None)
        if window_tokens.shape[1] > self.context:  # restart from the newest half, recomputed
            window_tokens = window_tokens[:, -(self.context // 2 + 1):]
            window_classes = window_classes[:, -(self.context // 2 + 1):]
            caches, new = self.initial_state(len(window_tokens))[:-1], slice(None)
        x = self.inputs[0][window_tokens[:, new]] + sum(
            table[window_classes[:, new, kind]] for kind, table in enumerate(self.inputs[1:]))
        new_state = []
        for block, (keys, values) in zip(self.blocks, caches, strict=True):
            x, keys, values = block.run(x, keys, values, self.cos, self.sin)
            new_state.append((keys, values))
        hidden = _standardize(x[:, -1], self.epsilon)
        new_state.append((window_tokens, window_classes))
        return hidden @ self.token_kernel + self.token_bias, hidden, new_state



def _rotation(context: int, heads: int, size: int, rope_base: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of every (window place, frequency) angle as CausalSelfAttention computes
    them (float32 frequencies, a float32 product), laid out along the query and key columns:
    (context, 2 * heads * size)."""
    exponents = np.arange(0, size, 2, dtype=np.float32) / np.float32(size)
    frequencies = (1.0 / np.power(np.float32(rope_base), exponents)).astype(np.float32)
    angles = np.arange(context, dtype=np.float32)[:, None] * frequencies
    angles = np.tile(np.concatenate([angles, angles], axis=1), (1, 2 * heads))
    return np.cos(angles), np.sin(angles)
