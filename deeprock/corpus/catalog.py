"""The SQLite catalog: what a scan learnt about each file, track and guitar token stream.

Later steps (windows, training, pages) read tokens from here and never parse MIDI again.
Token streams are stored as little-endian int32 arrays against the catalog's vocabulary.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from deeprock import filelock
from deeprock.corpus.stems import title_stem
from deeprock.corpus.vocabulary import Vocabulary

SCHEMA_VERSION = 7
# schema N-1 → N: statements that bring an older catalog up to date. New columns stay NULL
# until the file is parsed again, so a migration also marks every file for the next scan
# (up to REPARSED_UP_TO; 7's column is filled from the rows themselves). New tables (3: the
# user's labels; 4: the version search's store) and indexes come from SCHEMA itself.
MIGRATIONS = {
    2: ("ALTER TABLE files ADD COLUMN content_key TEXT",
        "ALTER TABLE files ADD COLUMN transposed_key TEXT"),
    3: ("ALTER TABLE tracks ADD COLUMN notes_probability REAL",),
    # 4: where the bar lines fall (the file's meters, each token's place in its bar)
    4: ("ALTER TABLE files ADD COLUMN meters TEXT",
        "ALTER TABLE streams ADD COLUMN position BLOB",
        "ALTER TABLE streams ADD COLUMN bar BLOB"),
    5: (),  # the duplicate search's store: its dedup_* tables come from SCHEMA
    6: (),  # the clichés' counts (dedup_counts, dedup_state: from SCHEMA)
    # 7: each file's title stem, and the change log of files (dedup_changes, its triggers, the
    # key indexes: from SCHEMA), so that a rescan's duplicate search works on what changed
    7: ("ALTER TABLE files ADD COLUMN title_stem TEXT",
        "UPDATE files SET title_stem = title_stem(path)"),
}
REPARSED_UP_TO = 6
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    root TEXT NOT NULL,
    path TEXT NOT NULL,              -- relative to root
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    md5 TEXT,
    status TEXT NOT NULL,            -- ok | recovered | failed
    repairs TEXT NOT NULL,           -- JSON list
    error TEXT,
    ticks_per_beat INTEGER,
    seconds REAL,
    tempo REAL,
    content_key TEXT,                -- hash of the notes in beats: equal for re-saved copies
    transposed_key TEXT,             -- the same with pitched notes shifted to start at 0
    meters TEXT,                     -- JSON [[start twelfths, numerator, denominator], ...]
    title_stem TEXT,                 -- stems.title_stem(path): numbered copies share it
    UNIQUE (root, path)
);
-- the health page's file search: the first 200 paths in order without sorting a million;
-- queries that read most rows write ORDER BY +path (a sort: walking it is 6x slower at 300k)
CREATE INDEX IF NOT EXISTS files_by_path ON files (path);
-- the duplicate search: the files sharing a key or a stem, without sorting every file
CREATE INDEX IF NOT EXISTS files_by_md5 ON files (md5);
CREATE INDEX IF NOT EXISTS files_by_content ON files (content_key);
CREATE INDEX IF NOT EXISTS files_by_transposed ON files (transposed_key);
CREATE INDEX IF NOT EXISTS files_by_stem ON files (title_stem);
-- files inserted or deleted, with their keys, since the version search's store was last
-- brought up to date (lsh.py reads and clears it); triggers, so that no writer forgets it
CREATE TABLE IF NOT EXISTS dedup_changes (
    seq INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, md5 TEXT, content_key TEXT,
    transposed_key TEXT
);
CREATE TRIGGER IF NOT EXISTS files_inserted AFTER INSERT ON files BEGIN
    INSERT INTO dedup_changes (file_id, md5, content_key, transposed_key)
    VALUES (new.id, new.md5, new.content_key, new.transposed_key); END;
CREATE TRIGGER IF NOT EXISTS files_deleted AFTER DELETE ON files BEGIN
    INSERT INTO dedup_changes (file_id, md5, content_key, transposed_key)
    VALUES (old.id, old.md5, old.content_key, old.transposed_key); END;
CREATE TABLE IF NOT EXISTS tracks (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    channel INTEGER NOT NULL,
    program INTEGER,
    name TEXT NOT NULL,
    is_drum INTEGER NOT NULL,
    notes INTEGER NOT NULL,
    pitch_min INTEGER,
    pitch_max INTEGER,
    polyphony REAL,                  -- notes per distinct onset
    guitar INTEGER NOT NULL,
    guitar_source TEXT,              -- metadata | inferred | NULL
    guitar_probability REAL NOT NULL,
    guitar_reason TEXT NOT NULL,
    notes_probability REAL,          -- P(guitar) from the notes of a metadata guitar
    PRIMARY KEY (file_id, idx, channel)
);
CREATE TABLE IF NOT EXISTS streams (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    channel INTEGER NOT NULL,
    count INTEGER NOT NULL,
    ids BLOB NOT NULL,               -- int32 token ids
    delta BLOB NOT NULL,             -- int32 twelfths of a quarter since the previous token
    duration BLOB NOT NULL,          -- int32 twelfths of a quarter
    position BLOB,                   -- int32 twelfths from the bar line (NULL: scanned before 4)
    bar BLOB,                        -- int32 0-based bar number in the song
    PRIMARY KEY (file_id, idx, channel)
);
CREATE TABLE IF NOT EXISTS vocabulary (id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE);
-- the user's guitar decisions, keyed by content so that a rescan or a moved file keeps them;
-- append-only: the newest row of a track wins, guitar NULL clears it, undo drops the newest row
CREATE TABLE IF NOT EXISTS labels (
    seq INTEGER PRIMARY KEY,
    md5 TEXT NOT NULL,
    idx INTEGER NOT NULL,
    channel INTEGER NOT NULL,
    guitar INTEGER,                  -- 1 accepted, 0 rejected, NULL back to the inference
    decided_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_by_track ON labels (md5, idx, channel, seq);
CREATE VIEW IF NOT EXISTS user_labels AS
    SELECT md5, idx, channel, guitar, decided_at FROM labels l
    WHERE seq = (SELECT MAX(seq) FROM labels m
                 WHERE m.md5 = l.md5 AND m.idx = l.idx AND m.channel = l.channel)
      AND guitar IS NOT NULL;
-- the version search's store (lsh.py), a cache of what the files rows hold: rebuilt from them
-- when missing, so that a rescan adding files computes their shingles and band keys only
CREATE TABLE IF NOT EXISTS dedup_files (
    file_id INTEGER PRIMARY KEY,     -- no foreign key: lsh.py drops a vanished file's keys
    md5 TEXT NOT NULL,               -- the file's, since SQLite may give a new file an old id
    shingles BLOB NOT NULL,          -- sorted unique uint32
    bands BLOB                       -- int64 LSH band keys; NULL: not indexed yet
);
CREATE TABLE IF NOT EXISTS dedup_bands (
    key INTEGER NOT NULL, file_id INTEGER NOT NULL, PRIMARY KEY (key, file_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dedup_pairs (     -- verified similar pairs, first < second
    first INTEGER NOT NULL, second INTEGER NOT NULL, PRIMARY KEY (first, second)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_pairs_by_second ON dedup_pairs (second);
CREATE TABLE IF NOT EXISTS dedup_common (shingle INTEGER PRIMARY KEY);  -- the clichés dropped
CREATE TABLE IF NOT EXISTS dedup_counts (    -- cliches.py: exact counts of the buckets over
    shingle INTEGER PRIMARY KEY, units INTEGER NOT NULL   -- the limit (files holding a shingle)
);
CREATE TABLE IF NOT EXISTS dedup_state (     -- cliches.py: per-bucket counts, exact buckets
    name TEXT PRIMARY KEY, data BLOB NOT NULL
);
-- lsh.py: the files that shared a key at the store's last update (one that no longer does
-- may be a unit now)
CREATE TABLE IF NOT EXISTS dedup_sharing (file_id INTEGER PRIMARY KEY);
-- the store's representatives not yet indexed (lsh.similar_pairs), without reading the store
CREATE INDEX IF NOT EXISTS dedup_unindexed ON dedup_files (file_id) WHERE bands IS NULL;
"""
# tracks with their file and the user's label: every guitar query reads through this
LABELLED_TRACKS = ("tracks t JOIN files f ON f.id = t.file_id LEFT JOIN user_labels u "
                   "ON u.md5 = f.md5 AND u.idx = t.idx AND u.channel = t.channel")
# a file sharing its md5, content or transposed key with another: only those can be merged;
# with the key indexes, SQLite finds them by one pass over each index (no table scan, no sort)
KEYS = ("md5", "content_key", "transposed_key")
SHARES_A_KEY = "(" + " OR ".join(
    f"{key} IN (SELECT {key} FROM files GROUP BY {key} HAVING COUNT(*) > 1)" for key in KEYS) + ")"
# the same of one file f, by three index look-ups: for a few files rather than every one
SHARES_ONE_KEY = "(" + " OR ".join(
    f"EXISTS (SELECT 1 FROM files g WHERE g.{key} = f.{key} AND g.id != f.id)"
    for key in KEYS) + ")"
GUITAR = "COALESCE(u.guitar, t.guitar)"  # the user's decision overrides the scan's
# (guitar_source, guitar, notes_probability) → flagged: guitar.is_suspicious, passed in by the
# caller so that the rule lives in one place and the catalog imports nothing of the music layer
Suspicion = Callable[[str | None, bool, float | None], bool]
FILE_COLUMNS = ("root", "path", "size", "mtime_ns", "md5", "status", "repairs", "error",
                "ticks_per_beat", "seconds", "tempo", "content_key", "transposed_key", "meters")
TRACK_COLUMNS = ("idx", "channel", "program", "name", "is_drum", "notes", "pitch_min",
                 "pitch_max", "polyphony", "guitar", "guitar_source", "guitar_probability",
                 "guitar_reason", "notes_probability")


class CatalogError(RuntimeError):
    """The catalog cannot be opened, written or understood; the message names the path."""


@dataclass
class Stream:
    file_id: int
    idx: int
    channel: int
    ids: np.ndarray
    delta: np.ndarray
    duration: np.ndarray
    position: np.ndarray | None  # None: the catalog was upgraded and not scanned again yet
    bar: np.ndarray | None
    meters: list[tuple[int, int, int]] | None  # the file's (start twelfths, numerator, denom.)


class Catalog:
    """One connection to one catalog file; a context manager."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            # the migration to 7 fills files.title_stem with it
            self.db.create_function("title_stem", 1, title_stem, deterministic=True)
            self.db.execute("PRAGMA foreign_keys = ON")
            # WAL: readers (the pages) never block the scan; NORMAL is still crash-safe in WAL
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._check_schema()
            self.db.executescript(SCHEMA)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            # with data_version, names this catalog's contents for files computed from them
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('catalog_id', ?)",
                            (os.urandom(8).hex(),))
            self.db.commit()
        except sqlite3.Error as error:
            raise CatalogError(f"cannot use catalog {self.path}: {error}") from error
        self.vocabulary = Vocabulary(
            [t for (t,) in self.db.execute("SELECT token FROM vocabulary ORDER BY id")]
        )
        self._saved_tokens = len(self.vocabulary)

    def _check_schema(self) -> None:
        tables = {name for (name,) in self.db.execute("SELECT name FROM sqlite_master")}
        if "files" in tables and "meta" not in tables:
            raise CatalogError(f"{self.path} is not a DeepRock catalog (no meta table)")
        if "meta" not in tables:
            return
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION or version < min(MIGRATIONS) - 1:
            raise CatalogError(
                f"catalog {self.path} has schema {version}, this version reads "
                f"{min(MIGRATIONS) - 1}-{SCHEMA_VERSION}: scan again into a new catalog file")
        if version < SCHEMA_VERSION:
            with self.db:
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS[step]:
                        self.db.execute(statement)
                if version < REPARSED_UP_TO:
                    self.db.execute("UPDATE files SET mtime_ns = -1")  # parse again next scan
                    self._count_change()  # what was computed from the files (stale_files) is old
                self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema'",
                                (SCHEMA_VERSION,))

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """One process at a time in this section, across processes (an advisory lock file
        beside the catalog): two training workers that both bring the duplicate store up to
        date would otherwise hold sqlite's write lock past the other's busy timeout."""
        with filelock.take(f"{self.path}.{name}.lock", f"pid {os.getpid()}", wait=True):
            yield

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction: a killed scan loses at most the batch in flight, never half a file."""
        try:
            with self.db:
                yield
                self._save_vocabulary()
        except sqlite3.Error as error:
            self.vocabulary = Vocabulary(self.vocabulary.tokens[: self._saved_tokens])
            raise CatalogError(f"cannot write catalog {self.path}: {error}") from error

    def _save_vocabulary(self) -> None:
        new = self.vocabulary.tokens[self._saved_tokens :]
        self.db.executemany(
            "INSERT INTO vocabulary (id, token) VALUES (?, ?)",
            enumerate(new, start=self._saved_tokens),
        )
        self._saved_tokens = len(self.vocabulary)

    def stale_files(self) -> int:
        """Files an upgrade marked for parsing again (their new fields are still empty)."""
        return self._one("SELECT COUNT(*) FROM files WHERE mtime_ns = -1")

    def known_files(self, root: str) -> dict[str, tuple[int, int]]:
        """path → (size, mtime_ns) of the files already scanned under root."""
        rows = self.db.execute("SELECT path, size, mtime_ns FROM files WHERE root = ?", (root,))
        return {path: (size, mtime) for path, size, mtime in rows}

    def remove_files(self, root: str, paths: Iterable[str]) -> None:
        self.db.executemany(
            "DELETE FROM files WHERE root = ? AND path = ?", ((root, p) for p in paths)
        )
        self._count_change()

    def _count_change(self) -> None:
        self.db.execute("INSERT INTO meta VALUES ('data_version', '1') ON CONFLICT(key) "
                        "DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def data_version(self) -> str:
        """Changes with every file written or removed, and differs between catalogs: names
        what a cache beside the catalog was computed from (labels count apart)."""
        rows = dict(self.db.execute(
            "SELECT key, value FROM meta WHERE key IN ('catalog_id', 'data_version')"))
        return f"{rows['catalog_id']}-{rows.get('data_version', 0)}"

    def put_file(self, record: dict) -> None:
        """Replace a file's rows: the file, its tracks, its token streams (names → ids here)."""
        self.db.execute("DELETE FROM files WHERE root = ? AND path = ?",
                        (record["root"], record["path"]))
        values = [record[c] for c in FILE_COLUMNS]
        values[FILE_COLUMNS.index("repairs")] = json.dumps(record["repairs"])
        values[FILE_COLUMNS.index("meters")] = json.dumps(record["meters"])
        cursor = self.db.execute(
            f"INSERT INTO files ({', '.join(FILE_COLUMNS)}, title_stem) "
            f"VALUES ({', '.join('?' * len(FILE_COLUMNS))}, ?)",
            [*values, title_stem(record["path"])])
        file_id = cursor.lastrowid
        self._count_change()
        self.db.executemany(
            f"INSERT INTO tracks (file_id, {', '.join(TRACK_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' * len(TRACK_COLUMNS))})",
            ([file_id, *(t[c] for c in TRACK_COLUMNS)] for t in record["tracks"]))
        self.db.executemany(
            "INSERT INTO streams (file_id, idx, channel, count, ids, delta, duration, position, "
            "bar) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                (file_id, stream["idx"], stream["channel"], len(stream["ids"]),
                 _blob(self.vocabulary.ids(stream["names"])[stream["ids"]]),
                 *(_blob(stream[name]) for name in ("delta", "duration", "position", "bar")))
                for stream in record["streams"]))

    def status_counts(self, roots: Iterable[str] | None = None) -> dict[str, int]:
        where, params = _roots_clause(roots)
        rows = self.db.execute(f"SELECT status, COUNT(*) FROM files {where} GROUP BY status",
                               params)
        counts = {"ok": 0, "recovered": 0, "failed": 0}
        counts.update(dict(rows))
        return counts

    def _one(self, sql: str) -> int:
        return self.db.execute(sql).fetchone()[0]

    def summary(self) -> dict:
        """Headline counts for the home page: three passes over the tables, not seven (each
        pass over a million-file catalog's tracks takes about a second)."""
        status = self.status_counts()
        tracks, missing = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(program IS NULL AND NOT is_drum), 0) FROM tracks"
        ).fetchone()
        guitar_tracks, guitar_files, tokens = self.db.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT t.file_id), COALESCE(SUM(s.count), 0) FROM "
            f"{LABELLED_TRACKS} LEFT JOIN streams s ON s.file_id = t.file_id AND s.idx = t.idx "
            f"AND s.channel = t.channel WHERE {GUITAR}").fetchone()
        return {
            "files": sum(status.values()), **status, "tracks": tracks,
            "guitar_tracks": guitar_tracks, "guitar_files": guitar_files,
            "missing_program_tracks": missing, "tokens": tokens,
            "vocabulary": len(self.vocabulary),
            "roots": [r for (r,) in self.db.execute("SELECT DISTINCT root FROM files")],
        }

    def files(self, problems_only: bool = False) -> list[dict]:
        """Every file row (or only the recovered and failed ones), as dicts, repairs decoded."""
        where = "WHERE status != 'ok'" if problems_only else ""
        return self._file_rows(f"SELECT id, {', '.join(FILE_COLUMNS)} FROM files {where} "
                               "ORDER BY id", ())

    def _file_rows(self, sql: str, params: tuple) -> list[dict]:
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor]
        for row in rows:
            row["repairs"] = json.loads(row["repairs"])
            row["meters"] = _meters(row["meters"])
        return rows

    def files_matching(self, text: str, limit: int = 200) -> list[dict]:
        """Files whose path contains text (case-insensitive), for a search box."""
        return self._file_rows(f"SELECT id, {', '.join(FILE_COLUMNS)} FROM files "
                               "WHERE path LIKE ? ORDER BY path LIMIT ?", (f"%{text}%", limit))

    def duplicate_keys(self, ids: Collection[int]) -> list[dict]:
        """Each file's id, path and the keys that make duplicates (md5, content, transposed),
        of these files (sharing_a_key's), ordered by path: the duplicate search's rows."""
        return _dicts(self.db.execute(
            "SELECT id, path, md5, content_key, transposed_key FROM files WHERE id IN "
            "(SELECT value FROM json_each(?)) ORDER BY path, id", (json.dumps(list(ids)),)))

    def sharing_a_key(self) -> list[int]:
        """Ids of the files sharing a key with another: on a million files, the few that can
        be duplicates; one pass over each key index."""
        return [i for (i,) in self.db.execute(f"SELECT id FROM files WHERE {SHARES_A_KEY}")]

    def holding_changed_keys(self, last: int) -> dict[int, bool]:
        """For each file holding a key of a file inserted or deleted up to change `last`
        (dedup_changes.seq): whether it shares a key with another now. By index look-ups:
        work for the changed keys only, where sharing_a_key passes over every file."""
        return dict(self.db.execute(
            f"SELECT id, {SHARES_ONE_KEY} FROM files f WHERE " + " OR ".join(
                f"{key} IN (SELECT {key} FROM dedup_changes WHERE seq <= ?1)"
                for key in KEYS), (last,)))

    def same_stem(self) -> Iterator[list[int]]:
        """Ids of files with one title stem (stems.title_stem), for each stem of two files or
        more among those with a transposed key (the others have no notes to compare): from the
        stem index, so the stems of unchanged files are never computed again."""
        for (ids,) in self.db.execute(
                "SELECT group_concat(id) FROM files WHERE title_stem IN (SELECT title_stem "
                "FROM files GROUP BY title_stem HAVING COUNT(*) > 1) AND transposed_key IS NOT "
                "NULL GROUP BY title_stem HAVING COUNT(*) > 1"):
            yield [int(i) for i in ids.split(",")]

    def file_keys(self) -> dict[int, tuple[str, str]]:
        """file id → (root, path): names that survive a rescan, unlike ids."""
        return {i: (root, path) for i, root, path in
                self.db.execute("SELECT id, root, path FROM files")}

    def file_paths(self, ids: Collection[int]) -> dict[int, tuple[str, str]]:
        """file_keys() of these ids only: the rows a page shows, not a million-entry dict."""
        rows = self.db.execute("SELECT id, root, path FROM files WHERE id IN (SELECT value "
                               "FROM json_each(?))", (json.dumps([int(i) for i in ids]),))
        return {i: (root, path) for i, root, path in rows}

    def ids_with_paths(self, paths: Collection[str]) -> list[int]:
        """Ids of the files at these paths (under any root), by the path index."""
        return [i for (i,) in self.db.execute(
            "SELECT id FROM files WHERE path IN (SELECT value FROM json_each(?))",
            (json.dumps(list(paths)),))]

    def failures(self) -> list[dict]:
        """Files that could not be read, with the reason."""
        cursor = self.db.execute(
            "SELECT root, path, error FROM files WHERE status = 'failed' ORDER BY +path")
        return [{"root": root, "path": path, "error": error} for root, path, error in cursor]

    def tracks(self, file_id: int | None = None) -> list[dict]:
        """Track rows as the scan wrote them, with the user's label applied: guitar is the
        user's decision where there is one, guitar_source then "user", user_label True/False
        (None: no label), guitar_probability still the scan's."""
        where = "WHERE t.file_id = ?" if file_id is not None else ""
        columns = ", ".join(f"t.{c}" for c in TRACK_COLUMNS if c not in ("guitar",
                                                                        "guitar_source"))
        cursor = self.db.execute(
            f"SELECT t.file_id, {columns}, {GUITAR} AS guitar, CASE WHEN u.guitar IS NULL "
            "THEN t.guitar_source ELSE 'user' END AS guitar_source, u.guitar AS user_label "
            f"FROM {LABELLED_TRACKS} {where} ORDER BY t.file_id, t.idx, t.channel",
            () if file_id is None else (file_id,))
        return _dicts(cursor)

    def guitar_counts(self) -> dict[str, int]:
        """Guitar tracks and files by how they were decided (metadata, inferred or user)."""
        rows = self.db.execute(
            "SELECT CASE WHEN u.guitar IS NULL THEN t.guitar_source ELSE 'user' END AS source, "
            f"COUNT(*), COUNT(DISTINCT t.file_id) FROM {LABELLED_TRACKS} WHERE {GUITAR} "
            "GROUP BY source").fetchall()
        counts = {f"{source}{suffix}": 0 for source in ("metadata", "inferred", "user")
                  for suffix in ("", "_files")}
        for source, tracks, files in rows:
            if source in ("metadata", "inferred", "user"):
                counts[source], counts[f"{source}_files"] = tracks, files
        return counts

    def repairs(self) -> list[list[str]]:
        """The repairs of every recovered file."""
        rows = self.db.execute("SELECT repairs FROM files WHERE status = 'recovered'")
        return [json.loads(repairs) for (repairs,) in rows]

    def guitar_candidates(self) -> list[tuple[int, int, int, str | None, float]]:
        """(file_id, index, channel, guitar_source, guitar_probability) of every track that is
        a guitar or was inferred: what a training selection chooses from. A track the user
        accepted counts as metadata (a stated fact, not a guess) with probability 1; one the
        user rejected is left out."""
        return self.db.execute(
            "SELECT t.file_id, t.idx, t.channel, CASE WHEN u.guitar IS NULL THEN "
            "t.guitar_source ELSE 'metadata' END, COALESCE(u.guitar * 1.0, t.guitar_probability) "
            f"FROM {LABELLED_TRACKS} WHERE u.guitar = 1 OR (u.guitar IS NULL AND "
            "(t.guitar OR t.guitar_source = 'inferred')) ORDER BY t.file_id, t.idx, t.channel"
        ).fetchall()

    def missing_metadata(self, suspicious: Suspicion | None = None) -> list[dict]:
        """Pitched tracks without a program change, with the inferred guitar decision; with
        `suspicious` (guitar.is_suspicious: the one rule, called by SQLite), also the tracks
        it flags, marked in the row's `suspicious`. Each row carries the file's md5 and the
        user's label (None: no label)."""
        flag = "0"
        if suspicious is not None:
            self.db.create_function("is_suspicious", 3, suspicious, deterministic=True)
            # the rule needs a notes probability: SQL skips the Python call for the millions
            # of tracks without one
            flag = ("(t.notes_probability IS NOT NULL AND "
                    "is_suspicious(t.guitar_source, t.guitar, t.notes_probability))")
        cursor = self.db.execute(
            "SELECT f.id AS file_id, f.root, f.path, f.md5, t.idx, t.channel, t.program, "
            "t.name, t.notes, t.pitch_min, t.pitch_max, t.polyphony, t.guitar, t.guitar_source, "
            "t.guitar_probability, t.guitar_reason, t.notes_probability, u.guitar AS user_label, "
            f"{flag} AS suspicious FROM {LABELLED_TRACKS} WHERE NOT t.is_drum AND "
            f"(t.program IS NULL OR {flag}) ORDER BY +f.path, t.idx, t.channel")
        return _dicts(cursor)

    def token_ids(self, guitar_only: bool = True
                  ) -> tuple[list[tuple[int, int, int]], list[np.ndarray]]:
        """Each stored stream's (file_id, index, channel) and token ids, without the rhythm:
        what windows and vocabulary statistics need, read in one pass."""
        keys, ids = [], []
        for file_id, idx, channel, blob in self._stream_rows("s.ids", guitar_only):
            keys.append((file_id, idx, channel))
            ids.append(np.frombuffer(blob, "<i4"))
        return keys, ids

    def token_arrays(self, guitar_only: bool = True
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """token_ids as three flat arrays: keys (n, 3) int64, offsets (n + 1) and every id in
        one array of the smallest unsigned dtype that holds the vocabulary (uint16 below 65,536
        tokens: half of int32's 520 MB at a million files); one block, not a million arrays."""
        keys, blobs = [], []
        for file_id, idx, channel, blob in self._stream_rows("s.ids", guitar_only):
            keys.append((file_id, idx, channel))
            blobs.append(blob)
        lengths = np.fromiter(map(len, blobs), np.int64, len(blobs)) // 4
        return (np.array(keys, np.int64).reshape(-1, 3),
                np.concatenate(([0], np.cumsum(lengths))),
                np.frombuffer(b"".join(blobs), "<i4").astype(
                    np.min_scalar_type(max(len(self.vocabulary) - 1, 0))))

    def guitar_totals(self) -> list[tuple[int, int, int]]:
        """(file_id, guitar streams, their tokens) per file with any: an aggregate in SQL, so
        per-artist counts never read a million token blobs."""
        return self.db.execute(
            f"SELECT s.file_id, COUNT(*), SUM(s.count) FROM {LABELLED_TRACKS} JOIN streams s "
            "ON s.file_id = t.file_id AND s.idx = t.idx AND s.channel = t.channel "
            f"WHERE {GUITAR} GROUP BY s.file_id").fetchall()

    def streams(self, guitar_only: bool = True,
                file_ids: Collection[int] | None = None) -> Iterator[Stream]:
        """Token streams in catalog order (of these files only): the input of windows,
        training and the duplicate search."""
        rows = self._stream_rows("s.ids, s.delta, s.duration, s.position, s.bar, f.meters",
                                 guitar_only, file_ids)
        for file_id, idx, channel, *blobs, meters in rows:
            yield Stream(file_id, idx, channel, *(None if b is None else np.frombuffer(b, "<i4")
                                                  for b in blobs), _meters(meters))

    def _stream_rows(self, columns: str, guitar_only: bool,
                     file_ids: Collection[int] | None = None) -> sqlite3.Cursor:
        """Stored streams in catalog order; guitar_only: of tracks that are guitars once the
        user's labels are applied."""
        where = [GUITAR] if guitar_only else []
        if file_ids is not None:
            where.append("s.file_id IN (SELECT value FROM json_each(?))")
        return self.db.execute(
            f"SELECT s.file_id, s.idx, s.channel, {columns} FROM {LABELLED_TRACKS} JOIN streams s "
            "ON s.file_id = t.file_id AND s.idx = t.idx AND s.channel = t.channel "
            f"{'WHERE ' + ' AND '.join(where) if where else ''} "
            "ORDER BY s.file_id, s.idx, s.channel",
            () if file_ids is None else (json.dumps(list(file_ids)),))


def _dicts(cursor: sqlite3.Cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _meters(text: str | None) -> list[tuple[int, int, int]] | None:
    return None if text is None else [tuple(meter) for meter in json.loads(text)]


def _blob(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype="<i4").tobytes()


def _roots_clause(roots: Iterable[str] | None) -> tuple[str, tuple]:
    if roots is None:
        return "", ()
    roots = tuple(roots)
    return f"WHERE root IN ({', '.join('?' * len(roots))})", roots
