"""The "transformer" architecture: causal, saved and loaded with safe_mode=True."""

from __future__ import annotations

import numpy as np
import pytest

from deeprock.training.vocab import POSITION_CLASSES, RHYTHM_CLASSES

VOCABULARY = 40
INPUTS = ("tokens", "deltas", "durations", "positions", "next_tokens")


def _tiny_model(**changes):
    from deeprock.training.models import ModelSettings, build_model

    sizes = {"units": 32, "layers": 2, "embedding": 8, "heads": 4, "dropout": 0.1, **changes}
    settings = ModelSettings(arch="transformer", **sizes)
    return build_model(settings, VOCABULARY, seq_len=24)


def _inputs(batch: int, steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    limits = {"tokens": VOCABULARY, "next_tokens": VOCABULARY, "deltas": RHYTHM_CLASSES,
              "durations": RHYTHM_CLASSES, "positions": POSITION_CLASSES}
    return {name: rng.integers(0, limits[name], (batch, steps)).astype(np.int32)
            for name in INPUTS}


@pytest.fixture(scope="module")
def model():
    return _tiny_model()


def test_inputs_heads_and_layer_names(model):
    assert model.name == "transformer"
    assert sorted(tensor.name for tensor in model.inputs) == sorted(INPUTS)
    assert set(model.output_names) == {"next_token", "next_delta", "next_duration"}
    names = {layer.name for layer in model.layers}
    assert {"position_embedding", "rhythm_context", "block_1_attention", "final_norm"} <= names
    assert model.get_layer("position_embedding").input_dim == POSITION_CLASSES


def test_a_position_sees_only_the_past(model):
    x = _inputs(2, 12)
    later = {name: values.copy() for name, values in x.items()}
    for values in later.values():
        values[:, 8:] = (values[:, 8:] + 1) % 30
    before, after = model.predict_on_batch(x), model.predict_on_batch(later)
    for head in before:
        np.testing.assert_allclose(before[head][:, :8], after[head][:, :8], atol=1e-6)
        assert not np.allclose(before[head][:, 8:], after[head][:, 8:])


def test_save_and_load_with_safe_mode_round_trips(model, tmp_path):
    import keras

    path = tmp_path / "transformer.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    x = _inputs(3, 20, seed=1)
    expected, got = model.predict_on_batch(x), loaded.predict_on_batch(x)
    for head in expected:
        np.testing.assert_allclose(got[head], expected[head], atol=1e-6)
    attention = loaded.get_layer("block_0_attention")
    assert attention.get_config()["heads"] == 4 and not any(
        type(layer).__name__ == "Lambda" for layer in loaded.layers)


def test_heads_must_split_the_width_evenly():
    with pytest.raises(ValueError, match="heads"):
        _tiny_model(heads=3)
