"""Artist conditioning: the table, the models' "artists" input and their numpy twins."""

from __future__ import annotations

import numpy as np
import pytest

from deeprock.generation.heads import softmax
from deeprock.generation.inference import numpy_network
from deeprock.generation.weights import read_keras_weights
from deeprock.training.conditioning import ANY, OTHER, ArtistTable, window_artists
from deeprock.training.vocab import POSITION_CLASSES, RHYTHM_CLASSES
from tests.generate_fixtures import saved_with_random_weights

VOCABULARY, ARTISTS, STEPS = 30, 4, 12


def test_the_table_pools_rare_artists_and_round_trips(tmp_path):
    artists = {1: "nirvana", 2: "nirvana", 3: "queen", 4: "queen", 5: "queen", 6: "abba"}
    table = ArtistTable.build(artists, artists, min_files=2)
    assert table.ids == {ANY: 0, OTHER: 1, "nirvana": 2, "queen": 3}
    assert table.files == {"nirvana": 2, "queen": 3, OTHER: 1, ANY: 6}
    assert table.pooled == ["abba"] and table.id_of("abba") == 1
    assert table.input_id("unheard") == 1  # a fine-tuning selection's new artist: "other"
    assert table.track_ids([3, 6, 1], artists).tolist() == [3, 1, 2]
    table.save(tmp_path / "artists.json")
    assert ArtistTable.load(tmp_path / "artists.json") == table
    with pytest.raises(ValueError, match=r"no artist 'nirvna'.*nearest: nirvana"):
        table.id_of("nirvna")
    with pytest.raises(ValueError, match="'any' at 0"):
        ArtistTable.from_dict({"version": 1, "ids": {"nirvana": 0}})


def test_each_window_takes_its_tracks_artist():
    offsets = np.array([0, 10, 25, 40])
    assert window_artists(offsets, np.array([5, 6, 7]), np.array([0, 9, 10, 30])).tolist() \
        == [5, 5, 6, 7]


@pytest.fixture(scope="module", params=["deeprock", "transformer"])
def conditioned(request, tmp_path_factory):
    """A tiny conditioned model with every weight random, saved and read back as generation
    reads it."""
    from deeprock.training.models import ModelSettings, build_model

    settings = ModelSettings(arch=request.param, units=16, layers=2, embedding=8, heads=2,
                             rhythm_embedding=4, artist_embedding=4, condition="artist")
    model = build_model(settings, VOCABULARY, jit_compile=False, artists=ARTISTS)
    path = saved_with_random_weights(model, tmp_path_factory.mktemp("run"))
    return model, numpy_network(read_keras_weights(path), 64)


def _inputs(artist: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, VOCABULARY, (2, STEPS + 1)).astype(np.int32)
    return {"tokens": tokens[:, :-1], "next_tokens": tokens[:, 1:],
            "deltas": rng.integers(0, RHYTHM_CLASSES, (2, STEPS)).astype(np.int32),
            "durations": rng.integers(0, RHYTHM_CLASSES, (2, STEPS)).astype(np.int32),
            "positions": rng.integers(0, POSITION_CLASSES, (2, STEPS)).astype(np.int32),
            "artists": np.full((2, STEPS), artist, np.int32)}


def _numpy_probabilities(net, x: dict, artist_ids) -> np.ndarray:
    state, rows = net.initial_state(2), []
    for step in range(STEPS):
        logits, _, state = net.token_step(
            x["tokens"][:, step], x["deltas"][:, step], x["durations"][:, step],
            x["positions"][:, step], state, artist_ids)
        rows.append(softmax(logits))
    return np.stack(rows, axis=1)


@pytest.mark.parametrize("artist", [0, 2])
def test_the_numpy_twin_equals_keras_with_an_artist(conditioned, artist):
    model, net = conditioned
    assert net.takes_artists
    x = _inputs(artist)
    expected = model.predict_on_batch(x)["next_token"]
    got = _numpy_probabilities(net, x, np.full(2, artist, np.int32))
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_the_artist_changes_the_next_token_and_none_is_any(conditioned):
    _, net = conditioned
    x = _inputs(0)
    anyone = _numpy_probabilities(net, x, None)
    np.testing.assert_array_equal(anyone, _numpy_probabilities(net, x, np.zeros(2, np.int32)))
    styled = _numpy_probabilities(net, x, np.full(2, 3, np.int32))
    assert np.abs(styled - anyone).max() > 1e-3


def test_an_unconditioned_model_has_no_artist_input():
    from deeprock.training.models import ModelSettings, build_model

    model = build_model(ModelSettings(units=8, embedding=4, rhythm_embedding=2), VOCABULARY,
                        jit_compile=False)
    assert "artists" not in {layer.name for layer in model.inputs}
    with pytest.raises(ValueError, match="artist table's size"):
        build_model(ModelSettings(condition="artist"), VOCABULARY)


def test_batches_carry_each_windows_artist_and_a_share_of_any(tmp_path):
    from deeprock.corpus.artists import file_artists
    from deeprock.corpus.catalog import Catalog
    from deeprock.training.conditioning import artist_inputs
    from deeprock.training.config import RunConfig
    from deeprock.training.models import ModelSettings
    from deeprock.training.split import DataSettings, build_training_data
    from deeprock.training.train import training_batches
    from tests.generate_fixtures import tiny_catalog

    catalog = tiny_catalog(tmp_path)
    with Catalog(catalog) as opened:
        data = build_training_data(opened, DataSettings(seq_len=16, unique_factor=2))
        artists = file_artists(opened)
    config = RunConfig(catalog=str(catalog), model=ModelSettings(condition="artist"),
                       data=data.settings)
    config.train.min_artist_files = 1
    (tmp_path / "run").mkdir()
    inputs = artist_inputs(config, data, tmp_path / "run")
    config.train.min_artist_files = 99  # a resume reads the saved table, whatever the setting
    assert artist_inputs(config, data, tmp_path / "run").table == inputs.table
    batches = training_batches(config, data, artists=inputs)
    fed, expected = [], []
    for index in range(len(batches)):
        x, _ = batches[index]
        assert (x["artists"] == x["artists"][:, :1]).all()  # one artist a window, every step
        starts = batches.all_starts[batches.order[index * 64:(index + 1) * 64]]
        tracks = np.searchsorted(data.train.offsets, starts, side="right") - 1
        expected += [inputs.table.ids[artists[data.train.files[t]]] for t in tracks]
        fed += x["artists"][:, 0].tolist()
    fed, expected = np.array(fed), np.array(expected)
    kept = fed != 0
    np.testing.assert_array_equal(fed[kept], expected[kept])
    assert 0.05 < 1 - kept.mean() < 0.3  # about any_artist_share of the windows as "any"


def test_a_run_from_before_conditioning_reads_as_unconditioned_and_keeps_its_token_files():
    from deeprock.training.config import RunConfig
    from deeprock.training.train import data_key

    old = RunConfig(catalog="c.sqlite").to_dict()
    del old["init_from"], old["model"]["condition"], old["model"]["artist_embedding"]
    del old["train"]["any_artist_share"], old["train"]["min_artist_files"]
    config = RunConfig.from_dict(old)
    assert config.model.condition == "none" and config.init_from is None
    assert set(data_key(config)) == {"catalog", "selection", "selection_sha256", "data"}
    config.init_from = "models/general"
    assert data_key(config)["init_from"] == "models/general"
