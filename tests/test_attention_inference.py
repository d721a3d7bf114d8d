"""The transformer's numpy key/value-cache step against the Keras model it was read from."""

from __future__ import annotations

import numpy as np
import pytest

from deeprock.generation.attention_inference import TransformerNetwork
from deeprock.generation.heads import softmax
from deeprock.generation.inference import broadcast_state, numpy_network
from deeprock.generation.weights import read_keras_weights
from deeprock.training.vocab import POSITION_CLASSES, RHYTHM_CLASSES
from tests.generate_fixtures import saved_with_random_weights

VOCABULARY = 40
HEADS = ("next_token", "next_delta", "next_duration")


@pytest.fixture(scope="module")
def model_and_weights(tmp_path_factory):
    """A tiny transformer with every weight random (biases and norms too, so each matters),
    saved as a run saves it and read back as generation reads it."""
    from deeprock.training.models import ModelSettings, build_model

    settings = ModelSettings(arch="transformer", units=32, layers=2, embedding=8, heads=4,
                             rhythm_embedding=4)
    model = build_model(settings, VOCABULARY, jit_compile=False)
    path = saved_with_random_weights(model, tmp_path_factory.mktemp("run"))
    return model, read_keras_weights(path)


def _sequence(batch: int, steps: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCABULARY, (batch, steps + 1)).astype(np.int32)
    return {"tokens": tokens[:, :-1], "next_tokens": tokens[:, 1:],
            "deltas": rng.integers(0, RHYTHM_CLASSES, (batch, steps)).astype(np.int32),
            "durations": rng.integers(0, RHYTHM_CLASSES, (batch, steps)).astype(np.int32),
            "positions": rng.integers(0, POSITION_CLASSES, (batch, steps)).astype(np.int32)}


def _numpy_heads(net: TransformerNetwork, x: dict[str, np.ndarray], state=None):
    """Every step's three softmaxes, fed one token at a time, and the last state."""
    state = state if state is not None else net.initial_state(len(x["tokens"]))
    heads = {head: [] for head in HEADS}
    for step in range(x["tokens"].shape[1]):
        logits, hidden, state = net.token_step(
            x["tokens"][:, step], x["deltas"][:, step], x["durations"][:, step],
            x["positions"][:, step], state)
        delta, duration = net.rhythm(hidden, x["next_tokens"][:, step])
        for head, values in zip(HEADS, (logits, delta, duration), strict=True):
            heads[head].append(softmax(values))
    return {head: np.stack(values, axis=1) for head, values in heads.items()}, state


def test_the_cached_step_equals_the_keras_model_at_every_position(model_and_weights):
    model, saved = model_and_weights
    net = numpy_network(saved)
    assert isinstance(net, TransformerNetwork) and net.arch == "transformer"
    assert net.vocabulary_size == VOCABULARY
    x = _sequence(batch=2, steps=30, seed=1)
    expected = model.predict_on_batch(x)
    got, state = _numpy_heads(net, x)
    for head in HEADS:
        np.testing.assert_allclose(got[head], expected[head], atol=1e-5)
    assert state[0][0].shape == (2, 4, 8, 30) and state[-1][0].shape == (2, 30)


def test_broadcast_state_gives_equal_rows(model_and_weights):
    _, saved = model_and_weights
    net = TransformerNetwork(saved)
    primer = _sequence(batch=1, steps=10, seed=2)
    _, state = _numpy_heads(net, primer)
    following = {name: np.repeat(values, 3, axis=0)
                 for name, values in _sequence(1, 5, seed=3).items()}
    copied, _ = _numpy_heads(net, following, broadcast_state(state, 3))
    alone, _ = _numpy_heads(net, {name: values[:1] for name, values in following.items()}, state)
    for head in HEADS:  # a batch of 3 and a batch of 1 may round differently in BLAS
        np.testing.assert_allclose(copied[head], np.repeat(alone[head], 3, axis=0), atol=1e-6)


def test_past_the_context_each_step_equals_a_fresh_pass_over_its_window(model_and_weights):
    """The window restarts from its newest half when full: every step's probabilities are the
    Keras model's on the last k tokens alone."""
    model, saved = model_and_weights
    context, steps = 8, 30
    net = TransformerNetwork(saved, context=context)
    x = _sequence(batch=1, steps=steps, seed=4)
    state, lengths = net.initial_state(1), []
    for end in range(1, steps + 1):
        heads, state = _numpy_heads(net, {name: v[:, end - 1:end] for name, v in x.items()},
                                    state)
        lengths.append(state[-1][0].shape[1])
        fresh = model.predict_on_batch({name: v[:, end - lengths[-1]:end]
                                        for name, v in x.items()})
        for head in HEADS:
            np.testing.assert_allclose(heads[head][:, 0], fresh[head][:, -1], atol=1e-5)
    assert lengths[:12] == [1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7, 8]
    assert max(values.shape[2] for _, values in state[:-1]) <= context


def test_thousands_of_tokens_stay_finite_at_a_constant_cache(model_and_weights):
    _, saved = model_and_weights
    net = TransformerNetwork(saved, context=16)
    got, state = _numpy_heads(net, _sequence(batch=2, steps=2000, seed=5))
    assert all(np.isfinite(values).all() for values in got.values())
    assert all(values.shape[2] <= 16 for _, values in state[:-1])


def test_a_context_below_two_tokens_is_refused(model_and_weights):
    with pytest.raises(ValueError, match="context"):
        TransformerNetwork(model_and_weights[1], context=1)
