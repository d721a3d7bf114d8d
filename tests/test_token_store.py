"""The token store beside the catalog: the catalog's arrays, read back from disk while the
catalog is unchanged, computed again after a scan writes or a label changes."""

from __future__ import annotations

import numpy as np

from deeprock.corpus import labels, token_store
from deeprock.corpus.catalog import Catalog
from tests.test_windows import catalog  # noqa: F401  (the fixture: four guitar streams)


def assert_same(arrays, again) -> None:
    assert all(np.array_equal(a, b) for a, b in zip(arrays, again, strict=True))


def test_store_is_the_catalogs_arrays_until_the_catalog_changes(catalog, monkeypatch):  # noqa: F811
    first = token_store.guitar_arrays(catalog)
    assert_same(first, catalog.token_arrays())
    folder = token_store.store_path(catalog.path)
    assert len(list(folder.glob("*.npy"))) == 3

    def no_reading(*_args, **_kwargs):
        raise AssertionError("read the catalog although the store is current")

    with monkeypatch.context() as patched:
        patched.setattr(Catalog, "token_arrays", no_reading)
        assert_same(token_store.guitar_arrays(Catalog(catalog.path)), first)

    keys, _, _ = first
    (md5,) = catalog.db.execute("SELECT md5 FROM files WHERE id = ?",
                                (int(keys[0, 0]),)).fetchone()
    labels.set_label(catalog, md5, int(keys[0, 1]), int(keys[0, 2]), False)  # not a guitar
    rejected = token_store.guitar_arrays(catalog)
    assert 0 < len(rejected[0]) < len(keys)  # a label is by content: its copies go too
    assert_same(rejected, catalog.token_arrays())
    assert len(list(folder.glob("*.npy"))) == 3  # the older version is gone

    before = catalog.data_version()
    root, path = catalog.file_keys()[int(rejected[0][-1, 0])]
    with catalog.batch():
        catalog.remove_files(root, [path])
    assert catalog.data_version() != before
    removed = token_store.guitar_arrays(catalog)
    assert len(removed[0]) == len(rejected[0]) - 1
    assert_same(removed, catalog.token_arrays())


def test_a_damaged_store_is_computed_again(catalog):  # noqa: F811
    arrays = token_store.guitar_arrays(catalog)
    for file in token_store.store_path(catalog.path).glob("*.ids.npy"):
        file.write_bytes(b"not an array")
    assert_same(token_store.guitar_arrays(catalog), arrays)


def test_catalogs_at_one_path_are_told_apart(tmp_path):
    path = tmp_path / "c.sqlite"
    with Catalog(path) as first:
        version = first.data_version()
    path.unlink()
    with Catalog(path) as second:
        assert second.data_version() != version
