"""A run's training data out of core (training/tokenfiles.py): the memory-mapped arrays are the
in-memory ones, batch for batch; a resume reuses them; stale or damaged ones are rewritten."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deeprock.corpus.catalog import Catalog
from deeprock.training import runs, tokenfiles
from deeprock.training.baselines import NgramBaseline
from deeprock.training.config import RunConfig
from deeprock.training.split import DataSettings, build_training_data
from deeprock.training.train import data_key, run_data
from tests.training_fixtures import demo_catalog

SIDE_ARRAYS = ("catalog_ids", "ids", "delta", "duration", "position", "offsets")


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory) -> str:
    return str(demo_catalog(tmp_path_factory.mktemp("token-files")))


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Chunks of a few tracks, so that writing in pieces is what the tests check."""
    monkeypatch.setattr(tokenfiles, "CHUNK_TOKENS", 700)


def _both(catalog_path: str, settings: DataSettings, folder):
    config = RunConfig(catalog=catalog_path, data=settings)
    with Catalog(catalog_path) as catalog:
        in_memory = build_training_data(catalog, settings)
        mapped = tokenfiles.write_data(catalog, settings, None, folder, data_key(config))
    return in_memory, mapped


@pytest.mark.parametrize("settings", [
    DataSettings(seq_len=16, unique_factor=2, validation_share=0.3),
    DataSettings(seq_len=24, unique_factor=6, validation_share=0.2, split_by="artist",
                 data_percent=60, min_count=3)])
def test_mapped_arrays_are_the_in_memory_ones(catalog_path, tmp_path, settings):
    in_memory, mapped = _both(catalog_path, settings, tmp_path / runs.TOKENS)
    assert isinstance(mapped.train.ids, np.memmap)
    for name in ("train", "validation"):
        expected, got = getattr(in_memory, name), getattr(mapped, name)
        assert got.keys == expected.keys and got.files == expected.files
        for array in SIDE_ARRAYS:
            np.testing.assert_array_equal(getattr(got, array), getattr(expected, array))
    np.testing.assert_array_equal(mapped.train_starts, in_memory.train_starts)
    np.testing.assert_array_equal(mapped.validation_starts, in_memory.validation_starts)
    assert mapped.vocabulary == in_memory.vocabulary
    assert mapped.summary() == in_memory.summary()


@pytest.mark.parametrize("stride", [1, 3])
def test_mapped_batches_equal_in_memory_ones(catalog_path, tmp_path, stride):
    from deeprock.training.batches import WindowBatches, transposition_table

    in_memory, mapped = _both(catalog_path, DataSettings(seq_len=16, unique_factor=2),
                              tmp_path / runs.TOKENS)
    table = transposition_table(in_memory.vocabulary, 4)

    def batches(data, **options):
        return WindowBatches(data.train, data.train_starts, 16, 32, "deeprock", seed=5,
                             stride=stride, transpose=table, positions=True, **options)

    pairs = [(batches(in_memory), batches(mapped)),
             (batches(in_memory, share=(1, 2)), batches(mapped, share=(1, 2))),
             *[(WindowBatches(data.validation, data.validation_starts, 16, 32, "seed",
                              shuffle=False) for data in (in_memory, mapped))]]
    for expected, got in pairs:
        for epoch in range(3):
            expected.set_epoch(epoch)
            got.set_epoch(epoch)
            assert len(got) == len(expected) > 0
            for index in range(len(got)):
                _assert_same(got[index], expected[index])


def _assert_same(got, expected) -> None:
    if isinstance(expected, dict):
        assert got.keys() == expected.keys()
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name])
    elif isinstance(expected, tuple):
        for part, expected_part in zip(got, expected, strict=True):
            _assert_same(part, expected_part)
    else:
        np.testing.assert_array_equal(got, expected)


def _mtimes(folder) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in sorted(folder.iterdir())}


def test_reused_while_current_rewritten_after_a_settings_change(catalog_path, tmp_path):
    config = RunConfig(catalog=catalog_path, data=DataSettings(seq_len=16, unique_factor=2))
    folder, said = tmp_path / runs.TOKENS, []
    first = run_data(config, tmp_path, said.append)
    written = _mtimes(folder)
    assert runs.TOKENS_MANIFEST in written and len(written) == 1 + 2 * len(tokenfiles.TYPES)
    again = run_data(config, tmp_path, said.append)
    assert _mtimes(folder) == written and len(said) == 1  # reused: nothing written, nothing said
    np.testing.assert_array_equal(again.train.ids, first.train.ids)
    config.data.unique_factor = 5
    changed = run_data(config, tmp_path, said.append)
    assert "other settings" in said[-1]
    assert all(_mtimes(folder)[name] != written[name] for name in written)
    assert len(changed.train_starts) < len(first.train_starts)
    assert not list(folder.glob(".*.tmp"))


def test_a_resume_trains_from_the_files_of_the_first_start(catalog_path, tmp_path,
                                                           monkeypatch):
    from deeprock.training.models import ModelSettings
    from deeprock.training.train import train_run

    monkeypatch.setenv("DEEPROCK_TRAIN_LOCK", str(tmp_path / "lock"))
    config = RunConfig(catalog=catalog_path, model=ModelSettings(arch="deeprock", units=8,
                                                                 layers=1, embedding=4),
                       data=DataSettings(seq_len=16, unique_factor=4, stride=8))
    config.train.epochs = 1
    run = tmp_path / "run"
    assert train_run(config, run, json_mode=True)["epochs"] == 1
    written = _mtimes(run / runs.TOKENS)
    config.train.epochs = 2
    assert train_run(config, run, json_mode=True)["epochs"] == 2
    assert _mtimes(run / runs.TOKENS) == written
    assert (run / runs.LOG).read_text().count("writing the token files") == 1


@pytest.mark.parametrize("damage", ["truncate", "grow", "remove", "manifest"])
def test_a_damaged_file_is_named_and_rewritten(catalog_path, tmp_path, damage):
    config = RunConfig(catalog=catalog_path, data=DataSettings(seq_len=16, unique_factor=2))
    folder, said = tmp_path / runs.TOKENS, []
    # a copy: a map of the file about to be damaged would see the damage
    good = np.array(run_data(config, tmp_path, said.append).train.delta)
    victim = tokenfiles.array_path(folder, "train", "delta")
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:-6])
    elif damage == "grow":
        victim.write_bytes(victim.read_bytes() + b"\0\0\0\0")
    elif damage == "remove":
        victim.unlink()
    else:
        victim = folder / runs.TOKENS_MANIFEST
        victim.write_text('{"format": 1, "ke')
    with Catalog(catalog_path) as catalog, pytest.raises(tokenfiles.StaleTokens) as error:
        tokenfiles.open_data(folder, config.data, data_key(config), catalog.file_keys())
    assert str(victim) in str(error.value)
    expected = {"truncate": "truncated or corrupt", "grow": "truncated or corrupt",
                "remove": "missing", "manifest": "unreadable"}[damage]
    assert expected in str(error.value)
    rewritten = run_data(config, tmp_path, said.append)
    assert expected in said[-1] and str(victim) in said[-1]
    np.testing.assert_array_equal(rewritten.train.delta, good)
    assert json.loads((folder / runs.TOKENS_MANIFEST).read_text())["key"] == data_key(config)


def test_chunked_trigram_counts_equal_whole_ones():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 7, 500).astype(np.int32)
    offsets = np.array([0, 40, 41, 200, 233, 500])
    targets = np.arange(0, 500, 3)
    whole = NgramBaseline.fit(ids, offsets, 7, chunk_tokens=10_000)
    for chunk in (1, 17, 150):
        pieces = NgramBaseline.fit(ids, offsets, 7, chunk_tokens=chunk)
        assert pieces.perplexities(ids, offsets, targets) == whole.perplexities(ids, offsets,
                                                                                targets)
        np.testing.assert_array_equal(pieces.trigram.counts, whole.trigram.counts)
