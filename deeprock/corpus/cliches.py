"""Cliché counts kept in the catalog, so that a rescan counts only the changed files' shingles.

    counts = ClicheCounts.load(db, check=True)   # None: no counts, or not dedup_files' (rebuild)
    counts.add([shingles, ...], +1)   # files entering the store (-1: leaving it)
    common = counts.common(limit)     # sorted shingles held by more than `limit` files
    counts.save()

An exact count for every shingle would be a row per shingle (~250 a file, nearly all in one
file). Instead each bucket of the shingles' top BUCKET_BITS bits keeps the count of its
shingles' occurrences, an upper bound of every count in it. Exact counts (dedup_counts) are kept
only for the shingles of buckets that went over the limit at some time: a bucket newly over it
is counted exactly by one pass over the stored shingles, one blob at a time. Shingles are
hashes, so the buckets fill evenly and a bucket of non-clichés stays far under the limit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import numpy as np

BUCKET_BITS = 22  # 4M buckets, 16 MB of counts; 1.4M files fill one with ~80 occurrences
BUCKET_SHIFT = np.uint32(32 - BUCKET_BITS)


class ClicheCounts:
    """Occurrences per bucket, the buckets counted exactly, and the files they were counted
    over (a store changed without these counts, e.g. by an older version, is rebuilt)."""

    def __init__(self, db: sqlite3.Connection, buckets: np.ndarray, exact: np.ndarray,
                 files: int) -> None:
        self.db, self.buckets, self.exact, self.files = db, buckets, exact, files

    @classmethod
    def load(cls, db: sqlite3.Connection, check: bool) -> ClicheCounts | None:
        """check: compare the files counted with the store's (a pass over the whole store);
        lsh.py skips it while its change log covers the store, as only it writes there."""
        rows = dict(db.execute("SELECT name, data FROM dedup_state"))
        if "buckets" not in rows:
            return None
        files = int(rows["files"])
        if check and files != db.execute("SELECT COUNT(*) FROM dedup_files").fetchone()[0]:
            return None
        return cls(db, np.frombuffer(rows["buckets"], "<u4").copy(),
                   np.unpackbits(np.frombuffer(rows["exact"], np.uint8)).astype(bool), files)

    @classmethod
    def empty(cls, db: sqlite3.Connection) -> ClicheCounts:
        db.execute("DELETE FROM dedup_counts")
        return cls(db, np.zeros(1 << BUCKET_BITS, np.uint32), np.zeros(1 << BUCKET_BITS, bool),
                   0)

    def add(self, sets: list[np.ndarray], sign: int) -> None:
        """Count files' sorted unique shingles in (sign +1) or out (-1)."""
        if not sets:
            return
        self.files += sign * len(sets)
        shingles = np.concatenate(sets)
        buckets = shingles >> BUCKET_SHIFT
        occurrences = np.bincount(buckets, minlength=len(self.buckets)).astype(np.uint32)
        if sign > 0:
            self.buckets += occurrences
        else:
            self.buckets -= occurrences
        values, counts = np.unique(shingles[self.exact[buckets]], return_counts=True)
        _add_exact(self.db, values, counts * sign)

    def common(self, limit: float) -> np.ndarray:
        """The shingles in more than `limit` files, sorted; first counts exactly the buckets
        newly over the limit."""
        new = (self.buckets > limit) & ~self.exact
        if new.any():
            self.exact |= new
            found = [s[new[s >> BUCKET_SHIFT]] for s in _stored(self.db)]
            values, counts = np.unique(np.concatenate([np.zeros(0, np.uint32), *found]),
                                       return_counts=True)
            _add_exact(self.db, values, counts)
        return np.array([s for (s,) in self.db.execute(
            "SELECT shingle FROM dedup_counts WHERE units > ? ORDER BY shingle", (limit,))],
            np.uint32)

    def save(self) -> None:
        self.db.execute("DELETE FROM dedup_counts WHERE units <= 0")
        state = {"buckets": self.buckets.astype("<u4").tobytes(),
                 "exact": np.packbits(self.exact).tobytes(), "files": str(self.files).encode()}
        if dict(self.db.execute("SELECT * FROM dedup_state")) != state:
            # unchanged counts are not written again: a write moves the catalog's stamp, and
            # every page cache keyed on it (a search on each rerun would empty them all)
            self.db.executemany("INSERT OR REPLACE INTO dedup_state VALUES (?, ?)",
                                state.items())


def _stored(db: sqlite3.Connection) -> Iterator[np.ndarray]:
    for (blob,) in db.execute("SELECT shingles FROM dedup_files"):
        yield np.frombuffer(blob, "<u4")


def _add_exact(db: sqlite3.Connection, shingles: np.ndarray, counts: np.ndarray) -> None:
    if not len(shingles):
        return
    rows = json.dumps(np.stack([shingles.astype(np.int64), counts.astype(np.int64)], 1).tolist())
    db.execute("INSERT INTO dedup_counts SELECT value ->> 0, value ->> 1 FROM json_each(?) "
               "WHERE true ON CONFLICT (shingle) DO UPDATE SET units = units + excluded.units",
               (rows,))
