"""Perplexity past the training window: step-by-step numpy feeding equals the Keras model run
over the whole sequence from a zero state."""

from __future__ import annotations

import numpy as np
import pytest

from deeprock.generation.generate import load_run
from deeprock.generation.long_context import _long_tracks, long_context_perplexity
from deeprock.training.vocab import position_classes

START, END = 20, 60


def test_late_positions_match_the_keras_model_over_the_whole_track(runs):
    from deeprock.training.models import load_model

    run = load_run(runs["deeprock"])
    figure = long_context_perplexity(run, str(runs["catalog"]), START, END)
    assert figure["tracks"] > 0 and figure["targets"] == figure["tracks"] * (END - START)
    ids, deltas, durations, positions = (np.stack(c) for c in zip(
        *_long_tracks(run, str(runs["catalog"]), END, 64), strict=True))
    model = load_model(str(runs["deeprock"] / "best.keras"))
    out = model.predict({"tokens": ids[:, :-1], "deltas": deltas[:, :-1],
                         "durations": durations[:, :-1],
                         "positions": position_classes(positions[:, :-1]),
                         "next_tokens": ids[:, 1:]}, verbose=0)["next_token"]
    taken = np.take_along_axis(out, ids[:, 1:, None], axis=-1)[..., 0]
    expected = np.exp(-np.log(taken[:, START - 1:END - 1]).mean())
    assert figure["perplexity"] == pytest.approx(expected, rel=1e-4)
    assert 1 < figure["window_perplexity"] < len(run.vocabulary.tokens)


def test_the_seed_network_is_scored_too_and_bad_ranges_are_refused(runs):
    run = load_run(runs["seed"])
    figure = long_context_perplexity(run, str(runs["catalog"]), START, END)
    assert figure["tracks"] > 0 and np.isfinite(figure["perplexity"])
    with pytest.raises(ValueError, match="start < end"):
        long_context_perplexity(run, str(runs["catalog"]), 50, 50)
    assert long_context_perplexity(run, str(runs["catalog"]), 10, 10**6)["tracks"] == 0
