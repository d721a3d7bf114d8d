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


def counted(value):
    """A compute function that counts its calls: the store must call it only when stale."""
    calls = []

    def compute():
        calls.append(1)
        return value
    return compute, calls


def test_stored_values_follow_the_labels_and_the_data_and_survive_damage(catalog):  # noqa: F811
    arrays = {"a": np.arange(5, dtype=np.uint16), "b": np.ones((2, 3))}
    by_labels, labelled_calls = counted({"n": [1, 2]})
    by_data, data_calls = counted(arrays)

    def both():
        return (token_store.stored_json(catalog, "doc", by_labels),
                token_store.stored_arrays(catalog, "arr", ("a", "b"), by_data, labelled=False))

    doc, stored = both()
    assert doc == {"n": [1, 2]} and all(np.array_equal(stored[k], arrays[k]) for k in arrays)
    assert stored["a"].dtype == np.uint16 and both()[0] == doc
    assert (len(labelled_calls), len(data_calls)) == (1, 1)  # the second call read the files

    labels.set_label(catalog, *catalog.db.execute(
        "SELECT md5 FROM files LIMIT 1").fetchone(), 0, 0, False)
    both()
    assert (len(labelled_calls), len(data_calls)) == (2, 1)  # labels change only the first
    folder = token_store.store_path(catalog.path)
    assert len(list(folder.glob("*.doc.json"))) == 1  # the older labels version is gone

    next(folder.glob("*.doc.json")).write_text('{"n": [1,')  # cut short
    next(folder.glob("*.arr.a.npy")).write_bytes(b"\x93NUMPY garbage")
    assert both()[0] == doc and (len(labelled_calls), len(data_calls)) == (3, 2)

    root, path = next(iter(catalog.file_keys().values()))
    with catalog.batch():
        catalog.remove_files(root, [path])
    both()
    assert (len(labelled_calls), len(data_calls)) == (4, 3)  # a rescan changes both
    assert len(list(folder.iterdir())) == 3  # doc.json, arr.a.npy, arr.b.npy: the new ones


def test_the_page_figures_are_the_catalogs_after_labels_and_scans(catalog):  # noqa: F811
    """The overview, the vocabulary counts and the selection's keys from the store equal
    what the catalog says now, after a label and after a removed file."""
    from deeprock.corpus import health
    from deeprock.corpus.selection import SelectionSettings, selected_keys

    def check() -> None:
        assert health.overview(catalog) == {
            "summary": catalog.summary(), "guitars": catalog.guitar_counts(), "stale": 0,
            "repairs": [], "failures": []}
        ids = catalog.token_arrays()[2]
        assert token_store.token_counts(catalog).tolist() == np.bincount(
            ids, minlength=len(catalog.vocabulary)).tolist()
        expected = [row[:3] for row in catalog.guitar_candidates() if row[3] == "metadata"
                    or (row[3] == "inferred" and row[4] >= 0.9)]
        assert selected_keys(catalog, SelectionSettings(), []).tolist() == [
            list(key) for key in expected]

    check()
    keys = catalog.token_arrays()[0]
    (md5,) = catalog.db.execute("SELECT md5 FROM files WHERE id = ?",
                                (int(keys[0, 0]),)).fetchone()
    labels.set_label(catalog, md5, int(keys[0, 1]), int(keys[0, 2]), False)
    check()
    root, path = catalog.file_keys()[int(keys[-1, 0])]
    with catalog.batch():
        catalog.remove_files(root, [path])
    check()


def test_an_upgrade_is_a_new_data_version(tmp_path, old_catalog):
    """The upgrade marks every file stale: what was stored before it (stale_files) is old."""
    path = tmp_path / "c.sqlite"
    with Catalog(path) as first:
        version = first.data_version()
    old_catalog(path, 5)
    with Catalog(path) as upgraded:
        assert upgraded.data_version() != version


def assert_same_windows(stats, again) -> None:
    assert stats.distinct.tolist() == again.distinct.tolist()
    assert [a.tolist() for a in stats.histogram()] == [a.tolist() for a in again.histogram()]
    for unique_factor in range(-1, stats.seq_len + 1):
        assert stats.kept(unique_factor) == again.kept(unique_factor)
        assert [a.tolist() for a in stats.per_track(unique_factor)] == [
            a.tolist() for a in again.per_track(unique_factor)]
        for kept in (True, False):
            window, other = stats.example(unique_factor, kept), again.example(unique_factor, kept)
            assert (window is None) == (other is None)
            assert window is None or (window.track, window.start, window.ids.tolist()) == (
                other.track, other.start, other.ids.tolist())


def test_window_counts_are_kept_per_seq_len_and_narrow_to_a_selection(catalog):  # noqa: F811
    """WindowStats from the stored counts (uint8) equals counting again, for every track and
    for a selection; a label recounts; only the newest WINDOW_LENGTHS_KEPT seq_lens stay."""
    from deeprock.corpus.windows import WindowStats

    arrays = token_store.guitar_arrays(catalog)
    keys = arrays[0]
    for seq_len in (1, 4, 10):
        counted = token_store.window_counts(catalog, seq_len)
        assert counted[0].dtype == np.uint8
        for tracks in (None, keys[1:], keys[[0, 2]], keys[:0]):
            assert_same_windows(WindowStats.from_arrays(*arrays, seq_len, tracks, counted),
                                WindowStats.from_arrays(*arrays, seq_len, tracks))
    (md5,) = catalog.db.execute("SELECT md5 FROM files WHERE id = ?",
                                (int(keys[1, 0]),)).fetchone()
    labels.set_label(catalog, md5, int(keys[1, 1]), int(keys[1, 2]), False)
    arrays = token_store.guitar_arrays(catalog)
    assert_same_windows(WindowStats.from_arrays(*arrays, 4, None,
                                                token_store.window_counts(catalog, 4)),
                        WindowStats.from_arrays(*arrays, 4))
    for seq_len in range(2, 9):
        token_store.window_counts(catalog, seq_len)
    folder = token_store.store_path(catalog.path)
    kept = [file.name.split(".")[1] for file in folder.glob("*.windows*.npy")]
    assert len(kept) == 2 * token_store.WINDOW_LENGTHS_KEPT  # distinct and histogram each
    assert kept.count("windows8") == 2  # the one asked for last is one of them


def test_song_index_is_np_unique_in_one_pass():
    from deeprock.corpus.health import song_index

    for files in ([3, 3, 5, 9, 9, 9], [], [7], [5, 3, 3]):  # the last unsorted: np.unique
        files = np.array(files, np.int64)
        expected = np.unique(files, return_inverse=True)
        assert [a.tolist() for a in song_index(files)] == [a.tolist() for a in expected]
