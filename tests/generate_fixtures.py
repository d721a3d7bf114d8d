"""Tiny run folders for the generation tests, made without the training CLI.

    catalog = tiny_catalog(tmp)                 # 12 demo songs scanned
    run = tiny_run(tmp / "run", catalog)        # config, vocab, best.keras, split, rhythm
    runs = shared_runs()                        # one catalog and both runs per test process

The generation, page and browser tests share `shared_runs()` (read-only), so one pytest
process builds the tiny catalog and models once (~10-30 s on two busy cores).
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

SEQ_LEN = 16


def tiny_catalog(folder: Path, files: int = 12) -> Path:
    from deeprock.corpus import demo
    from deeprock.corpus.scan import scan

    songs = folder / "songs"
    demo.generate(songs, files=files, seed=3)
    catalog = folder / "tiny.sqlite"
    scan([str(songs)], str(catalog), jobs=1)
    return catalog


def tiny_run(run: Path, catalog: Path, arch: str = "deeprock", fit_batches: int = 30,
             positions: bool = True, condition: str = "none") -> Path:
    """A run folder of a 16-unit model, fitted on a few batches so that it is not uniform;
    positions=False: a deeprock run as trained before bar positions (config and model);
    condition="artist": a conditioned run (every demo artist its own id, artists.json)."""
    from deeprock.corpus.artists import file_artists
    from deeprock.corpus.catalog import Catalog
    from deeprock.training import runs
    from deeprock.training.conditioning import ArtistTable
    from deeprock.training.config import RunConfig
    from deeprock.training.models import ModelSettings, build_model
    from deeprock.training.split import DataSettings, build_training_data
    from deeprock.training.train import run_split
    from deeprock.training.vocab import RHYTHM_CLASSES

    data_settings = DataSettings(seq_len=SEQ_LEN, unique_factor=2, validation_share=0.2)
    with Catalog(catalog) as opened:
        data = build_training_data(opened, data_settings)
        artists = file_artists(opened)
    table = ArtistTable.build(artists, [*data.train.files, *data.validation.files], 1)
    settings = ModelSettings(arch=arch, units=16, layers=2, embedding=8, rhythm_embedding=4,
                             positions=positions, condition=condition)
    ids = data.train.ids
    model = build_model(settings, len(data.vocabulary), seq_len=SEQ_LEN,
                        id_mean=float(ids.mean()), id_std=float(ids.std()), jit_compile=False,
                        artists=len(table))
    _fit(model, data, arch, fit_batches, table.track_ids(data.train.files, artists))
    run.mkdir(parents=True, exist_ok=True)
    if condition == "artist":
        table.save(run / runs.ARTISTS)
    model.save(run / "best.keras")
    config = RunConfig(catalog=str(catalog), model=settings, data=data_settings).to_dict()
    if not positions:  # what such a run's config.json holds: no word of positions
        del config["model"]["positions"]
    (run / "config.json").write_text(json.dumps(config))
    data.vocabulary.save(run / "vocab.json")
    runs.write_json(run / runs.SPLIT, run_split(data).to_dict())
    rhythm = {"delta_counts": np.bincount(data.train.delta, minlength=RHYTHM_CLASSES).tolist(),
              "duration_counts": np.bincount(data.train.duration,
                                             minlength=RHYTHM_CLASSES).tolist()}
    (run / "rhythm.json").write_text(json.dumps(rhythm))
    return run


def _fit(model, data, arch: str, batches: int, track_artists: np.ndarray) -> None:
    """A few batches of windows: enough for a model that prefers the data's tokens."""
    from deeprock.training.conditioning import window_artists

    if not batches:
        return
    side, starts = data.train, data.train_starts
    rng = np.random.default_rng(0)
    chosen = rng.choice(starts, size=min(len(starts), batches * 16), replace=False)
    window = chosen[:, None] + np.arange(SEQ_LEN + 1)
    tokens, deltas, durations = side.ids[window], side.delta[window], side.duration[window]
    if arch == "seed":
        model.fit(tokens[:, :-1, None].astype("float32"), tokens[:, -1], batch_size=16,
                  epochs=1, verbose=0)
        return
    inputs = {"tokens": tokens[:, :-1], "deltas": deltas[:, :-1],
              "durations": durations[:, :-1], "next_tokens": tokens[:, 1:]}
    if "positions" in {tensor.name for tensor in model.inputs}:
        inputs["positions"] = side.position[window][:, :-1]
    if "artists" in {tensor.name for tensor in model.inputs}:
        inputs["artists"] = np.repeat(window_artists(side.offsets, track_artists, chosen)[:, None],
                                      SEQ_LEN, axis=1)
    targets = {"next_token": tokens[:, 1:], "next_delta": deltas[:, 1:],
               "next_duration": durations[:, 1:]}
    model.fit(inputs, targets, batch_size=16, epochs=1, verbose=0)


@functools.cache
def shared_runs() -> dict[str, Path]:
    """{"catalog", "deeprock", "seed", "models"}: models/ holds only the deeprock run (tiny),
    for pages that list runs. Removed when the process exits; never modify these."""
    folder = Path(tempfile.mkdtemp(prefix="deeprock-generation-tests-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    catalog = tiny_catalog(folder)
    return {"catalog": catalog, "models": folder / "models",
            "deeprock": tiny_run(folder / "models" / "tiny", catalog, fit_batches=20),
            "seed": tiny_run(folder / "seed-runs" / "seed", catalog, arch="seed",
                             fit_batches=10)}


def assert_weights_match_keras(path: Path) -> None:
    """weights.py's arrays for every layer of a saved model equal Keras' own get_weights():
    any architecture's test can call it on its .keras file (nested sublayers included)."""
    from deeprock.generation.weights import read_keras_weights
    from deeprock.training.models import load_model

    saved = read_keras_weights(path)
    model = load_model(str(path))
    assert saved.model_name == model.name
    for layer in model.layers:
        expected, read = layer.get_weights(), saved.weights[layer.name]
        assert len(read) == len(expected), layer.name
        for want, got in zip(expected, read, strict=True):
            assert got.dtype == want.dtype and np.array_equal(got, want), layer.name


def saved_with_random_weights(model, folder: Path) -> Path:
    """The model with N(0, 0.4) weights saved as folder/best.keras: the numpy twins are checked
    on weights far from Keras's initial ones, where a wrong kernel layout shows."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        layer.set_weights([rng.normal(0.0, 0.4, w.shape).astype(np.float32)
                           for w in layer.get_weights()])
    path = folder / "best.keras"
    model.save(path)
    return path
