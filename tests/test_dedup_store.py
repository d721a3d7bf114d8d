"""The version search kept in the catalog (lsh.py) against datasketch's in-memory index.

The in-memory search is the one dedup.py used before the store: kept here as the reference.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from deeprock.corpus import dedup, lsh
from deeprock.corpus.catalog import Catalog
from deeprock.corpus.demo import generate
from deeprock.corpus.scan import scan
from deeprock.corpus.shingles import similar
from deeprock.corpus.stems import title_stem
from deeprock.music.tokens import PITCH_NAMES, TWELFTHS_PER_BAR
from tests.test_dedup import with_notes_changed


def in_memory_pairs(catalog: Catalog) -> set[tuple[int, int]]:
    """The former dedup._similar_pairs over dedup._drop_common, on the same stored shingles."""
    shingles = {i: np.frombuffer(blob, "<u4") for i, blob in
                catalog.db.execute("SELECT file_id, shingles FROM dedup_files")}
    ids = list(shingles)
    sets = [shingles[i] for i in ids]
    if sets:
        values, counts = np.unique(np.concatenate(sets), return_counts=True)
        common = values[counts > max(lsh.COMMON_UNITS, lsh.COMMON_SHARE * len(sets))]
        sets = [s[~np.isin(s, common, assume_unique=True)] for s in sets]
    index = MinHashLSH(num_perm=lsh.NUM_PERM, params=(lsh.LSH_BANDS, lsh.LSH_ROWS))
    sketches = {}
    for at, values in enumerate(sets):
        if len(values) >= lsh.SIMILAR_MIN_SHARED:
            sketches[at] = MinHash(lsh.NUM_PERM, hashfunc=int)
            sketches[at].update_batch(values.tolist())
            index.insert(at, sketches[at], check_duplication=False)
    return {(min(ids[at], ids[other]), max(ids[at], ids[other]))
            for at, sketch in sketches.items() for other in index.query(sketch)
            if other > at and similar(sets[at], sets[other], lsh.SIMILAR_JACCARD,
                                      lsh.SIMILAR_MIN_SHARED)}


def reference_groups(path: Path, monkeypatch) -> list[dedup.DuplicateGroup]:
    with monkeypatch.context() as patch, Catalog(path) as catalog:
        patch.setattr(lsh, "similar_pairs", in_memory_pairs)
        return dedup.find_duplicates(catalog)


def stored_groups(path: Path) -> list[dedup.DuplicateGroup]:
    with Catalog(path) as catalog:
        return dedup.find_duplicates(catalog)


def test_signatures_are_datasketchs():
    rng = np.random.default_rng(0)
    sets = [np.unique(rng.integers(0, 2**32, size, dtype=np.uint32)) for size in (1, 10, 300)]
    found = lsh.signatures(lsh.fmix32(np.concatenate(sets)), np.cumsum([0, *map(len, sets)]),
                           lsh.PERM_A, lsh.PERM_B)
    for values, row in zip(sets, found, strict=True):
        sketch = MinHash(lsh.NUM_PERM, hashfunc=int)
        sketch.update_batch(values.tolist())
        assert np.array_equal(row, sketch.hashvalues)


@pytest.mark.parametrize(("files", "seed"), [(150, 0), (40, 1), (40, 3)])
def test_demo_corpus_groups_equal_the_in_memory_search(tmp_path, monkeypatch, files, seed):
    generate(tmp_path / "demo", files=files, seed=seed)
    path = tmp_path / "c.sqlite"
    scan([str(tmp_path / "demo")], str(path), jobs=1)
    found = stored_groups(path)
    assert {g.kind for g in found} == set(dedup.KINDS) or files < 150
    assert found == reference_groups(path, monkeypatch)
    assert stored_groups(path) == found  # a second run reads the store


@pytest.mark.corpus
def test_shared_corpus_groups_equal_the_in_memory_search(shared_corpus, tmp_path, monkeypatch):
    path = tmp_path / "c.sqlite"
    scan([str(shared_corpus)], str(path), jobs=2)
    found = stored_groups(path)
    assert sum(g.kind == "version" for g in found) > 30
    assert found == reference_groups(path, monkeypatch)


VOCABULARY = [PITCH_NAMES[p] for p in range(40, 76)] + [
    f"{PITCH_NAMES[p]} {PITCH_NAMES[p + 7]}" for p in range(28, 52)]


def bar_places(delta: np.ndarray) -> dict:
    """4/4 bar positions and numbers of a stream's onsets (the scan's streams carry them)."""
    onsets = np.cumsum(delta)
    return {"position": (onsets % TWELFTHS_PER_BAR).astype("<i4"),
            "bar": (onsets // TWELFTHS_PER_BAR).astype("<i4")}


def synthetic(rng: np.random.Generator, number: int, ids: np.ndarray) -> dict:
    """A one-track guitar file of these token ids, with keys of its own."""
    track = {"idx": 0, "channel": 0, "program": 30, "name": "Guitar", "is_drum": False,
             "notes": len(ids), "pitch_min": 40, "pitch_max": 80, "polyphony": 1.0,
             "guitar": True, "guitar_source": "metadata", "guitar_probability": 1.0,
             "guitar_reason": "synthetic", "notes_probability": 1.0}
    delta = rng.choice([3, 6, 12], len(ids)).astype("<i4")
    return {"root": "/synthetic", "path": f"{number % 7}/song{number}.mid", "size": 1,
            "mtime_ns": 1, "md5": f"{number:032x}", "status": "ok", "repairs": [],
            "error": None, "ticks_per_beat": 480, "seconds": 60.0, "tempo": 120.0,
            "content_key": f"c{number}", "transposed_key": f"t{number}", "tracks": [track],
            "meters": [[0, 4, 4]],
            "streams": [{"idx": 0, "channel": 0, "names": VOCABULARY, "ids": ids,
                         "delta": delta, "duration": delta,
                         **bar_places(delta)}]}


def test_planted_versions_in_a_synthetic_catalog(tmp_path, monkeypatch):
    """300 random songs, 30 of them copied with 5 of their 150 tokens changed."""
    rng = np.random.default_rng(5)
    path = tmp_path / "s.sqlite"
    songs = [rng.integers(0, len(VOCABULARY), 150) for _ in range(300)]
    copies = []
    for song in songs[:30]:
        copy = song.copy()
        changed = rng.choice(len(copy), 5, replace=False)
        copy[changed] = rng.integers(0, len(VOCABULARY), 5)
        copies.append(copy)
    with Catalog(path) as catalog, catalog.batch():
        for number, ids in enumerate(songs + copies):
            catalog.put_file(synthetic(np.random.default_rng(number % 300), number, ids))
    found = stored_groups(path)
    planted = {(f"{n % 7}/song{n}.mid", f"{(n + 300) % 7}/song{n + 300}.mid") for n in range(30)}
    assert {tuple(sorted(g.files)) for g in found} == {tuple(sorted(p)) for p in planted}
    assert found == reference_groups(path, monkeypatch)


def test_a_rescan_hashes_only_the_new_files_and_finds_a_new_version(tmp_path, monkeypatch):
    root = tmp_path / "demo"
    generate(root, files=150, seed=0)
    path = tmp_path / "c.sqlite"
    scan([str(root)], str(path), jobs=1)
    grouped = {f for g in stored_groups(path) for f in g.files}
    source = next(p for p in sorted(root.rglob("*.mid"))
                  if str(p.relative_to(root)) not in grouped)
    (root / "moved").mkdir()
    version = root / "moved" / "renamed.mid"  # a version only the similarity search can find
    version.write_bytes(with_notes_changed(source.read_bytes(), 40))
    hashed = []
    band_keys = lsh.band_keys
    monkeypatch.setattr(lsh, "band_keys", lambda sets: hashed.append(len(sets)) or band_keys(sets))
    scan([str(root)], str(path), jobs=1)
    after = stored_groups(path)
    assert 1 <= sum(hashed) < 15  # the new file, and those a changed cliché set touches
    pair = {str(source.relative_to(root)), "moved/renamed.mid"}
    assert any(g.kind == "version" and pair <= set(g.files) for g in after)
    assert after == reference_groups(path, monkeypatch)
    version.unlink()
    scan([str(root)], str(path), jobs=1)
    assert not any("moved/renamed.mid" in g.files for g in stored_groups(path))
    assert stored_groups(path) == reference_groups(path, monkeypatch)


def _groups_in_a_process(path: str, queue) -> None:
    queue.put([(g.kind, g.files) for g in stored_groups(Path(path))])


def test_two_processes_search_one_fresh_catalog_at_once(tmp_path):
    """Two training workers build their data from one catalog at the same moment: both write
    the version store, so without the catalog's lock one of them fails (database is locked,
    or a UNIQUE constraint on the band keys another process just wrote)."""
    generate(tmp_path / "demo", files=60, seed=2)
    path = tmp_path / "c.sqlite"
    scan([str(tmp_path / "demo")], str(path), jobs=1)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_groups_in_a_process, args=(str(path), queue))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    found = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert found[0] == found[1] == found[2] and found[0]


def store_contents(path: Path) -> tuple[set, ...]:
    """What the version search keeps: its units (shingles, band keys), pairs, clichés, and the
    files found sharing a key (a rebuild finds them by a pass over every file)."""
    with Catalog(path) as catalog:
        return tuple(set(catalog.db.execute(f"SELECT * FROM {table}")) for table in (
            "dedup_files", "dedup_pairs", "dedup_common", "dedup_sharing"))


def rebuilt(path: Path) -> Path:
    """A copy of the catalog with an empty store that the change log does not cover: its next
    search compares every file, as a first search does."""
    copy = path.with_name(f"rebuilt-{path.name}")
    with Catalog(path) as catalog, Catalog(copy) as target:
        catalog.db.backup(target.db)
    with Catalog(copy) as catalog, catalog.db:
        for table in ("files", "bands", "pairs", "common", "counts", "state", "sharing"):
            catalog.db.execute(f"DELETE FROM dedup_{table}")
        catalog.db.execute("DELETE FROM meta WHERE key = 'dedup_logged'")
    stored_groups(copy)
    return copy


def test_a_rescan_that_adds_or_removes_a_copy_leaves_the_store_a_rebuild_would(tmp_path):
    """The copy sorts first, so it becomes its unit's representative in the original's place;
    once changed or removed, the original is a unit of its own again (it stopped sharing a
    key)."""
    root = tmp_path / "demo"
    generate(root, files=60, seed=1)
    path = tmp_path / "c.sqlite"
    scan([str(root)], str(path), jobs=1)
    before = stored_groups(path)
    grouped = {f for g in before for f in g.files}
    source = next(p for p in sorted(root.rglob("*.mid"))
                  if str(p.relative_to(root)) not in grouped)
    copy = root / "0copy" / source.name
    copy.parent.mkdir()
    copy.write_bytes(source.read_bytes())
    scan([str(root)], str(path), jobs=1)
    pair = [f"0copy/{source.name}", str(source.relative_to(root))]
    assert dedup.DuplicateGroup("exact", pair) in stored_groups(path)
    assert stored_groups(path) == stored_groups(rebuilt(path))
    assert store_contents(path) == store_contents(rebuilt(path))
    copy.write_bytes(with_notes_changed(source.read_bytes(), 3))  # put again with other keys
    scan([str(root)], str(path), jobs=1)
    assert not any(g.kind == "exact" and pair[0] in g.files for g in stored_groups(path))
    assert stored_groups(path) == stored_groups(rebuilt(path))
    assert store_contents(path) == store_contents(rebuilt(path))
    copy.unlink()
    scan([str(root)], str(path), jobs=1)
    assert stored_groups(path) == before
    assert store_contents(path) == store_contents(rebuilt(path))
    with Catalog(path) as catalog:
        assert catalog.db.execute("SELECT COUNT(*) FROM dedup_changes").fetchone() == (0,)


def test_a_search_with_nothing_changed_writes_nothing(tmp_path):
    """A write would move the catalog's stamp, and empty every page cache keyed on it."""
    generate(tmp_path / "demo", files=40, seed=3)
    path = tmp_path / "c.sqlite"
    scan([str(tmp_path / "demo")], str(path), jobs=1)
    found = stored_groups(path)
    with Catalog(path) as watcher:
        version = watcher.db.execute("PRAGMA data_version").fetchone()
        assert stored_groups(path) == found
        assert watcher.db.execute("PRAGMA data_version").fetchone() == version


def test_a_catalog_of_schema_6_gains_its_stems_and_finds_the_same_groups(tmp_path, old_catalog):
    generate(tmp_path / "demo", files=150, seed=0)
    path = tmp_path / "c.sqlite"
    scan([str(tmp_path / "demo")], str(path), jobs=1)
    found = stored_groups(path)
    assert any(g.kind == "version" for g in found)
    old_catalog(path, 6)
    with Catalog(path) as catalog:
        assert catalog.stale_files() == 0  # the stems come from the paths: nothing to parse
        assert all(stem == title_stem(file) for file, stem in catalog.db.execute(
            "SELECT path, title_stem FROM files"))
    assert stored_groups(path) == found
    assert store_contents(path) == store_contents(rebuilt(path))


def test_the_title_stem_follows_a_moved_or_put_again_file(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "s.sqlite"
    records = [synthetic(rng, n, rng.integers(0, len(VOCABULARY), 50)) for n in range(3)]
    for record, name in zip(records, ("a/Song_1.mid", "a/Song_2.MID", "a/Other.mid"),
                            strict=True):
        record["path"] = name
    with Catalog(path) as catalog:
        with catalog.batch():
            for record in records:
                catalog.put_file(record)
        assert [len(ids) for ids in catalog.same_stem()] == [2]
        with catalog.batch():  # a scan's move: the old path removed, the file put at the new
            catalog.remove_files("/synthetic", ["a/Song_2.MID"])
            catalog.put_file(records[1] | {"path": "b/Song_2.MID"})
            catalog.put_file(records[2] | {"path": "a/Song (3).mid"})  # put again, renamed
        stems = dict(catalog.db.execute("SELECT path, title_stem FROM files"))
        assert stems == {"a/Song_1.mid": "a/song", "b/Song_2.MID": "b/song",
                         "a/Other.mid": "a/other", "a/Song (3).mid": "a/song"}
        assert [len(ids) for ids in catalog.same_stem()] == [2]
