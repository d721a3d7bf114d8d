"""The version search kept in the catalog: shingles, MinHash LSH band keys, verified pairs.

    update_store(catalog, [(file_id, md5), ...])   # the units' representatives
    pairs = similar_pairs(catalog)   # {(file_id, file_id)} at SIMILAR_JACCARD or more
    shingles = load_shingles(catalog, file_ids)   # {file_id: sorted uint32 shingles}

datasketch's in-memory index took 1.8 GB at 100k files, linear in the files. Here the band keys
live in the catalog (dedup_bands, indexed by key) and candidates are files sharing a key; only
files without stored keys (new, re-parsed, relabelled, or touched by a change of the cliché set)
are hashed and looked up, so a rescan that adds files costs those files; which units changed
comes from the catalog's change log (dedup_changes, written by triggers on files) and the files
sharing a key, so a rescan never compares every file with the store. The signatures are
datasketch's MinHash (its affine32 scheme, seed 1), by a compiled loop: the same band buckets,
so the same candidates as MinHashLSH with these parameters. Nothing holds every file's
shingles: they are read back CHUNK_FILES at a time to hash, by id to verify a candidate, and
the clichés are counted incrementally in cliches.py, so memory stays bounded by a chunk.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

import numba
import numpy as np

from deeprock.corpus import labels
from deeprock.corpus.catalog import Catalog
from deeprock.corpus.cliches import ClicheCounts
from deeprock.corpus.shingles import file_shingles, mix64, similar

# distinct songs anywhere, clichés dropped: at most 0.08 on the shared corpus, 0.21 on the
# demo corpora (40 to 400 files, 12 seeds)
SIMILAR_JACCARD = 0.5
SIMILAR_MIN_SHARED = 10  # fewer shared shingles is too little evidence, whatever the Jaccard
COMMON_UNITS, COMMON_SHARE = 10, 0.01  # a shingle in more songs than both of these is a cliché
# 42 bands of 3 rows. A pair at Jaccard J becomes a candidate with odds 1 - (1 - J^3)^42:
# 0.996 at J = 0.5 (datasketch's own choice for a 0.35 threshold, 32 x 4, gave 0.87), 0.04 at 0.1
NUM_PERM, LSH_BANDS, LSH_ROWS = 128, 42, 3
MASK_32, SHIFT_32 = np.uint64((1 << 32) - 1), np.uint64(32)
BAND_SEED = np.uint64(0x9E3779B97F4A7C15)
CHUNK_FILES = 10_000  # files hashed and stored at a time: ~80 MB of keys in flight
READ_FILES = 20_000  # files whose shingles are computed or read at a time


def permutations(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's MinHash permutations (its default "affine32" scheme), drawn as it draws
    them: odd multipliers a and offsets b of h → a·h + b mod 2^32."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a.astype(np.uint64), b.astype(np.uint64)


PERM_A, PERM_B = permutations()


def fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer: datasketch mixes each input hash with it once."""
    values = values.astype(np.uint32)
    values = (values ^ (values >> np.uint32(16))) * np.uint32(0x85EBCA6B)
    values = (values ^ (values >> np.uint32(13))) * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


@numba.njit(cache=True, nogil=True)
def signatures(mixed: np.ndarray, starts: np.ndarray, a: np.ndarray,
               b: np.ndarray) -> np.ndarray:
    """MinHash of each set mixed[starts[i]:starts[i + 1]] (fmix32 applied): the minimum over
    the set of (a·h + b) mod 2^32 for each permutation (a, b)."""
    out = np.empty((len(starts) - 1, len(a)), np.uint32)
    for i in range(len(starts) - 1):
        for k in range(len(a)):
            best = MASK_32
            for j in range(starts[i], starts[i + 1]):
                value = (np.uint64(mixed[j]) * a[k] + b[k]) & MASK_32
                if value < best:
                    best = value
            out[i, k] = best
    return out


def band_keys(sets: list[np.ndarray]) -> np.ndarray:
    """(len(sets), LSH_BANDS) int64 keys: equal keys, equal rows of that band (odds 2^-64)."""
    if not sets:  # the compiled loop's first call loads it: not for nothing
        return np.zeros((0, LSH_BANDS), np.int64)
    starts = np.zeros(len(sets) + 1, np.int64)
    starts[1:] = np.cumsum([len(s) for s in sets])
    values = np.concatenate(sets)
    rows = signatures(fmix32(values), starts, PERM_A, PERM_B)[:, : LSH_BANDS * LSH_ROWS]
    rows = rows.reshape(len(sets), LSH_BANDS, LSH_ROWS).astype(np.uint64)
    band = np.arange(LSH_BANDS, dtype=np.uint64) * BAND_SEED
    keys = mix64(((rows[..., 0] << SHIFT_32) | rows[..., 1]) ^ band)
    return mix64(keys ^ rows[..., 2]).view(np.int64)


def sharing_files(catalog: Catalog) -> tuple[int, list[int]]:
    """The change log's last entry, and the files sharing a key with another as of it. While
    the log covers the store: those of the last update whose keys no change touched, and those
    holding a touched key that share one now; otherwise every file's."""
    db = catalog.db
    last = db.execute("SELECT IFNULL(MAX(seq), 0) FROM dedup_changes").fetchone()[0]
    if not _covered(db):
        return last, catalog.sharing_a_key()
    holding = catalog.holding_changed_keys(last)
    changed = {i for (i,) in db.execute("SELECT file_id FROM dedup_changes WHERE seq <= ?",
                                        (last,))}
    before = {i for (i,) in db.execute("SELECT file_id FROM dedup_sharing")}
    return last, sorted((before - changed - holding.keys()) | {i for i, s in holding.items() if s})


def _covered(db: sqlite3.Connection) -> bool:
    """Whether the change log holds every change since the store's last update (not so in a
    first search, nor in a catalog migrated to schema 7)."""
    return db.execute("SELECT 1 FROM meta WHERE key = 'dedup_logged'").fetchone() is not None


def update_store(catalog: Catalog, keyed: list[tuple[int, str]], sharing: list[int],
                 last: int) -> None:
    """Bring the store to the units as of change `last` (sharing_files'): `keyed`, the (file id,
    md5) representatives of the files sharing a key (`sharing`: all their ids), and every
    other file with a transposed key. Shingles are computed for the new units, the gone ones
    forgotten, the clichés counted, and the files that a changed cliché set touches marked
    to hash again."""
    db = catalog.db
    with db:
        relabelled = _relabelled(catalog)
        scope = _scope(catalog, keyed, sharing, relabelled, last)
        counts = ClicheCounts.load(db, check=not scope)  # None: to count the whole store, below
        gone = {i for (i,) in db.execute(
            "SELECT file_id FROM dedup_files d LEFT JOIN temp.units u USING (file_id) "
            f"WHERE u.md5 IS NOT d.md5 {scope.format('d.file_id')}")} | relabelled
        if counts is not None:
            counts.add(list(load_shingles(catalog, gone).values()), -1)
        _forget(catalog, gone, drop=True)
        missing = [i for (i,) in db.execute(
            "SELECT file_id FROM temp.units u WHERE NOT EXISTS "
            "(SELECT 1 FROM dedup_files d WHERE d.file_id = u.file_id) ORDER BY file_id")]
        for first in range(0, len(missing), READ_FILES):
            found = file_shingles(catalog, missing[first : first + READ_FILES])
            db.executemany("INSERT INTO dedup_files SELECT file_id, md5, ?, NULL FROM temp.units "
                           "WHERE file_id = ?",
                           ((s.astype("<u4").tobytes(), i) for i, s in found.items()))
            if counts is not None:
                counts.add(list(found.values()), +1)
        if counts is None:
            counts = _count_all(catalog)
        _restale(catalog, counts.common(max(COMMON_UNITS, COMMON_SHARE * counts.files)))
        counts.save()
        _logged(catalog, last)


def _scope(catalog: Catalog, keyed: list[tuple[int, str]], sharing: list[int],
           relabelled: set[int], last: int) -> str:
    """Fill temp.units with the units to compare with the store; returns the condition (a
    format string for an id column) that limits the comparison to them. While the log covers
    the store, a unit can only have changed if its file was inserted or deleted up to change
    `last`, was relabelled, or shares or shared a key; otherwise every file is compared."""
    db = catalog.db
    for name, columns in (("units", "file_id INTEGER PRIMARY KEY, md5"),
                          ("sharing", "file_id INTEGER PRIMARY KEY"),
                          ("examined", "file_id INTEGER PRIMARY KEY")):
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})")
        db.execute(f"DELETE FROM temp.{name}")
    _insert_json(db, "temp.units", keyed)
    _insert_json(db, "temp.sharing", [[i] for i in sharing])
    scope = ""
    if _covered(db):
        scope = "AND {} IN (SELECT file_id FROM temp.examined)"
        db.execute("INSERT OR IGNORE INTO temp.examined SELECT file_id FROM dedup_changes "
                   "WHERE seq <= ? UNION SELECT file_id FROM dedup_sharing UNION SELECT file_id "
                   "FROM temp.sharing", (last,))
        _insert_json(db, "temp.examined", [[i] for i in relabelled], "OR IGNORE")
    db.execute("INSERT INTO temp.units SELECT id, IFNULL(md5, '') FROM files WHERE "
               "transposed_key IS NOT NULL AND id NOT IN (SELECT file_id FROM temp.sharing) "
               f"{scope.format('id')}")
    return scope


def _logged(catalog: Catalog, last: int) -> None:
    """The store is up to date with the change log's entries up to `last`: those are cleared,
    and the files sharing a key remembered (one that stops sharing may become a unit)."""
    db = catalog.db
    db.execute("DELETE FROM dedup_changes WHERE seq <= ?", (last,))
    db.execute("DELETE FROM dedup_sharing WHERE file_id NOT IN (SELECT file_id FROM temp.sharing)")
    db.execute("INSERT OR IGNORE INTO dedup_sharing SELECT file_id FROM temp.sharing")
    db.execute("INSERT OR IGNORE INTO meta VALUES ('dedup_logged', '1')")


def _insert_json(db: sqlite3.Connection, table: str, rows: list[list], verb: str = "") -> None:
    """Rows of integers or strings into a table, 100k at a time: SQLite unpacks the JSON,
    ~10x faster than executemany."""
    width = len(rows[0]) if rows else 1
    columns = ", ".join(f"value ->> {k}" for k in range(width))
    for first in range(0, len(rows), 100_000):
        db.execute(f"INSERT {verb} INTO {table} SELECT {columns} FROM json_each(?)",
                   (json.dumps(rows[first : first + 100_000]),))


def _count_all(catalog: Catalog) -> ClicheCounts:
    """Cliché counts over the whole store, READ_FILES at a time."""
    counts = ClicheCounts.empty(catalog.db)
    cursor = catalog.db.execute("SELECT shingles FROM dedup_files")
    while rows := cursor.fetchmany(READ_FILES):
        counts.add([np.frombuffer(blob, "<u4") for (blob,) in rows], +1)
    return counts


def load_shingles(catalog: Catalog, file_ids: Iterable[int]) -> dict[int, np.ndarray]:
    """The stored shingles of these files (those in the store)."""
    ids, found = list(file_ids), {}
    for first in range(0, len(ids), READ_FILES):
        found |= {file_id: np.frombuffer(blob, "<u4") for file_id, blob in catalog.db.execute(
            "SELECT file_id, shingles FROM dedup_files WHERE file_id IN "
            "(SELECT value FROM json_each(?))", (json.dumps(ids[first : first + READ_FILES]),))}
    return found


def _relabelled(catalog: Catalog) -> set[int]:
    """Stored files with a label, when the labels changed since the store was built: their
    guitar streams, hence their shingles, may have changed."""
    version = str(labels.version(catalog))
    row = catalog.db.execute("SELECT value FROM meta WHERE key = 'dedup_labels'").fetchone()
    if row is not None and row[0] == version:
        return set()
    catalog.db.execute("INSERT OR REPLACE INTO meta VALUES ('dedup_labels', ?)", (version,))
    return {file_id for (file_id,) in catalog.db.execute(
        "SELECT file_id FROM dedup_files WHERE file_id IN "
        "(SELECT id FROM files WHERE md5 IN (SELECT md5 FROM labels))")}


def _forget(catalog: Catalog, file_ids: Iterable[int], drop: bool) -> None:
    """Remove the files' band keys and pairs; drop: their shingles too, else mark them stale."""
    db = catalog.db
    for file_id in file_ids:
        row = db.execute("SELECT bands FROM dedup_files WHERE file_id = ?", (file_id,)).fetchone()
        if row and row[0]:
            db.executemany("DELETE FROM dedup_bands WHERE key = ? AND file_id = ?",
                           ((int(k), file_id) for k in np.frombuffer(row[0], "<i8")))
        db.execute("DELETE FROM dedup_pairs WHERE first = ? OR second = ?", (file_id, file_id))
        db.execute("DELETE FROM dedup_files WHERE file_id = ?" if drop else
                   "UPDATE dedup_files SET bands = NULL WHERE file_id = ?", (file_id,))


def _restale(catalog: Catalog, common: np.ndarray) -> None:
    """A new cliché set changes the sets of the files holding a shingle that joined or left
    it: those lose their keys and pairs, to be hashed again. Found by one pass over the
    store, READ_FILES at a time."""
    db = catalog.db
    before = np.array([s for (s,) in db.execute("SELECT shingle FROM dedup_common")], np.uint32)
    changed = np.setxor1d(before, common)
    if not len(changed):
        return
    touched = []
    cursor = db.execute("SELECT file_id, shingles FROM dedup_files WHERE bands IS NOT NULL")
    while rows := cursor.fetchmany(READ_FILES):
        ends = np.cumsum([len(blob) // 4 for _, blob in rows])
        values = np.frombuffer(b"".join(blob for _, blob in rows), "<u4")
        hits = np.flatnonzero(np.isin(values, changed))
        touched += [rows[at][0] for at in np.unique(np.searchsorted(ends, hits, "right"))]
    _forget(catalog, touched, drop=False)
    db.execute("DELETE FROM dedup_common")
    db.executemany("INSERT INTO dedup_common VALUES (?)", ((int(s),) for s in common))


def similar_pairs(catalog: Catalog) -> set[tuple[int, int]]:
    """Pairs of stored files (first < second) sharing at least SIMILAR_JACCARD of their
    uncommon shingles: LSH proposes candidates, exact sets decide. Clichés (update_store's)
    are dropped first: they made distinct songs look alike. Only files without band keys are
    hashed and looked up, CHUNK_FILES at a time."""
    db = catalog.db
    common = np.array([s for (s,) in db.execute("SELECT shingle FROM dedup_common")], np.uint32)
    with db:
        stale = [i for (i,) in db.execute(
            "SELECT file_id FROM dedup_files WHERE bands IS NULL ORDER BY file_id")]
        few = len(stale) * 10 < db.execute(  # counted up to that far: not a pass over the store
            "SELECT COUNT(*) FROM (SELECT 1 FROM dedup_files LIMIT ?)",
            (len(stale) * 10 + 1,)).fetchone()[0]
        new_keys = []  # kept only when few: what the key index is searched for
        for first in range(0, len(stale), CHUNK_FILES):
            keys = _index(db, _dropped(catalog, stale[first : first + CHUNK_FILES], common))
            if few and keys is not None:
                new_keys.append(keys)
        candidates = (_candidates(db, new_keys) if few
                      else _all_candidates(db, np.array(stale, np.int64)))
        sets = _dropped(catalog, sorted({i for pair in candidates for i in pair}), common)
        db.executemany("INSERT OR IGNORE INTO dedup_pairs VALUES (?, ?)", (
            pair for pair in sorted(candidates) if similar(
                sets[pair[0]], sets[pair[1]], SIMILAR_JACCARD, SIMILAR_MIN_SHARED)))
    return set(db.execute("SELECT first, second FROM dedup_pairs"))


def _dropped(catalog: Catalog, file_ids: list[int], common: np.ndarray) -> dict[int, np.ndarray]:
    """file id → its stored shingles without the clichés."""
    return {file_id: values[~np.isin(values, common, assume_unique=True)]
            for file_id, values in load_shingles(catalog, file_ids).items()}


def _index(db: sqlite3.Connection,
           sets: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """Hash these files and store their keys (an empty blob: too few shingles to index);
    returns the keys and their files."""
    indexed = [i for i, values in sets.items() if len(values) >= SIMILAR_MIN_SHARED]
    db.executemany("UPDATE dedup_files SET bands = x'' WHERE file_id = ?",
                   ((i,) for i, values in sets.items() if len(values) < SIMILAR_MIN_SHARED))
    if not indexed:
        return None
    keys = band_keys([sets[i] for i in indexed])
    owners = np.repeat(np.array(indexed, np.int64), LSH_BANDS)
    _insert_pairs(db, "dedup_bands", keys.ravel(), owners, sort=True)
    db.executemany("UPDATE dedup_files SET bands = ? WHERE file_id = ?",
                   zip((row.astype("<i8").tobytes() for row in keys), indexed, strict=True))
    return keys.ravel(), owners


def _insert_pairs(db: sqlite3.Connection, table: str, first: np.ndarray, second: np.ndarray,
                  sort: bool = False) -> None:
    """Rows of two integer columns; sorted rows build the key index's B-tree in order."""
    if sort:
        order = np.argsort(first, kind="stable")
        first, second = first[order], second[order]
    _insert_json(db, table, np.stack([first, second], axis=1).tolist())


def _all_candidates(db: sqlite3.Connection, stale: np.ndarray) -> set[tuple[int, int]]:
    """Pairs sharing a key with a stale file, by one pass over the key index: when most files
    are stale (a first search), cheaper than a look-up for each."""
    largest = db.execute("SELECT MAX(file_id) FROM dedup_files").fetchone()[0] or 0
    is_stale = np.zeros(largest + 1, bool)  # a set of a million ids would take ~60 MB
    is_stale[stale] = True
    pairs = set()
    for (members,) in db.execute("SELECT group_concat(file_id) FROM dedup_bands GROUP BY key "
                                 "HAVING COUNT(*) > 1"):
        ids = sorted(map(int, members.split(",")))
        pairs |= {(a, b) for at, a in enumerate(ids) for b in ids[at + 1 :]
                  if is_stale[a] or is_stale[b]}
    return pairs


def _candidates(db: sqlite3.Connection,
                new_keys: list[tuple[np.ndarray, np.ndarray]]) -> set[tuple[int, int]]:
    """Pairs of the new keys' files with every file sharing a key, by the key index."""
    if not new_keys:
        return set()
    db.execute("CREATE TEMP TABLE IF NOT EXISTS stale_keys (key INTEGER, file_id INTEGER)")
    db.execute("DELETE FROM stale_keys")
    for keys, owners in new_keys:
        _insert_pairs(db, "temp.stale_keys", keys, owners)
    rows = db.execute("SELECT s.file_id, b.file_id FROM stale_keys s JOIN dedup_bands b "
                      "ON b.key = s.key AND b.file_id != s.file_id")
    return {(min(a, b), max(a, b)) for a, b in rows}
