"""The user's guitar labels: accept or reject a track as guitar, undo, export and import as JSON.

    labels.set_label(catalog, md5, index, channel, True)   # accepted; False rejected
    labels.undo(catalog)                                   # the newest decision taken back
    labels.export_json(catalog) / labels.import_json(catalog, text)

Labels live in the catalog's `labels` table keyed by the file's content hash, track index and
channel, so a rescan or a moved file keeps them; the catalog's guitar queries apply them
(windows, selection, training). The table is append-only, which makes every decision undoable.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from deeprock.corpus.catalog import Catalog, CatalogError

FORMAT, VERSION = "deeprock-labels", 1


class LabelError(ValueError):
    """A labels file that cannot be read; the message names the file and the problem."""


def set_label(catalog: Catalog, md5: str, index: int, channel: int,
              guitar: bool | None) -> None:
    """Record a decision: True accepted as guitar, False rejected, None back to inference."""
    with catalog.batch():
        catalog.db.execute(
            "INSERT INTO labels (md5, idx, channel, guitar, decided_at) VALUES (?, ?, ?, ?, ?)",
            (md5, int(index), int(channel), None if guitar is None else int(guitar), _now()))
        _count_change(catalog)


def undo(catalog: Catalog) -> dict | None:
    """Take back the newest decision; returns it (md5, index, channel, guitar) or None."""
    row = catalog.db.execute("SELECT seq, md5, idx, channel, guitar FROM labels "
                             "ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return None
    with catalog.batch():
        catalog.db.execute("DELETE FROM labels WHERE seq = ?", (row[0],))
        _count_change(catalog)
    guitar = None if row[4] is None else bool(row[4])
    return {"md5": row[1], "index": row[2], "channel": row[3], "guitar": guitar}


def version(catalog: Catalog) -> int:
    """Grows with every change to the labels: part of a page's cache key, since label writes
    may not touch the catalog file's mtime (WAL)."""
    row = catalog.db.execute("SELECT value FROM meta WHERE key = 'labels_version'").fetchone()
    return int(row[0]) if row else 0


def _count_change(catalog: Catalog) -> None:
    catalog.db.execute("INSERT INTO meta VALUES ('labels_version', '1') ON CONFLICT(key) "
                       "DO UPDATE SET value = CAST(value AS INTEGER) + 1")


def history_size(catalog: Catalog) -> int:
    """How many decisions undo can take back."""
    return catalog.db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]


def current(catalog: Catalog) -> list[dict]:
    """The labels in force, each with a file that has that content (path, track name), if any."""
    cursor = catalog.db.execute(
        "SELECT u.md5, u.idx, u.channel, u.guitar, u.decided_at, "
        "(SELECT f.root || '/' || f.path FROM files f WHERE f.md5 = u.md5 ORDER BY f.id "
        "LIMIT 1), (SELECT t.name FROM files f JOIN tracks t ON t.file_id = f.id "
        "WHERE f.md5 = u.md5 AND t.idx = u.idx AND t.channel = u.channel LIMIT 1) "
        "FROM user_labels u ORDER BY u.md5, u.idx, u.channel")
    return [{"md5": md5, "index": idx, "channel": channel, "guitar": bool(guitar),
             "decided_at": decided_at, "path": path, "name": name}
            for md5, idx, channel, guitar, decided_at, path, name in cursor]


def decisions(catalog: Catalog) -> dict[tuple[str, int, int], bool]:
    """(md5, index, channel) → the label in force: current() without each label's file and
    track, which cost a pass over the files per label."""
    return {(md5, idx, channel): bool(guitar) for md5, idx, channel, guitar in
            catalog.db.execute("SELECT md5, idx, channel, guitar FROM user_labels")}


def export_json(catalog: Catalog) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, "labels": current(catalog)},
                      indent=1)


def parse_export(text: str, source: str = "labels") -> list[dict]:
    """The entries of an exported labels document, checked; LabelError names the source."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LabelError(f"{source} is not JSON: {error}") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LabelError(f"{source} is not a {FORMAT} file (export one with deeprock labels "
                         "--export)")
    if data.get("version") != VERSION:
        raise LabelError(f"{source} has labels version {data.get('version')!r}, this version "
                         f"reads {VERSION}")
    entries = data.get("labels")
    if not isinstance(entries, list):
        raise LabelError(f"{source} has no list of labels")
    return [_entry(entry, source, number) for number, entry in enumerate(entries, start=1)]


def _entry(entry: object, source: str, number: int) -> dict:
    try:
        md5, index, channel, guitar = (entry[k] for k in ("md5", "index", "channel", "guitar"))
        valid = (isinstance(md5, str) and len(md5) == 32 and isinstance(guitar, bool)
                 and isinstance(index, int) and index >= 0
                 and isinstance(channel, int) and 0 <= channel <= 15)
    except (KeyError, TypeError):
        valid = False
    if not valid:
        raise LabelError(f"{source}: label {number} needs md5 (32 hex digits), index >= 0, "
                         "channel 0-15 and guitar true or false")
    path = entry.get("path")
    return {"md5": md5, "index": index, "channel": channel, "guitar": guitar,
            "path": path if isinstance(path, str) else None}


def read_export(path: str | os.PathLike) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise LabelError(f"cannot read labels {path}: {error.strerror or error}") from error
    return parse_export(text, str(path))


def import_json(catalog: Catalog, text: str, source: str = "labels") -> int:
    """Apply exported labels; returns how many changed a decision (the same one is skipped)."""
    entries = parse_export(text, source)
    known = {(e["md5"], e["index"], e["channel"]): e["guitar"] for e in current(catalog)}
    changes = [e for e in entries if known.get((e["md5"], e["index"], e["channel"]))
               is not e["guitar"]]
    try:
        with catalog.batch():
            catalog.db.executemany(
                "INSERT INTO labels (md5, idx, channel, guitar, decided_at) VALUES (?, ?, ?, ?, ?)",
                ((e["md5"], e["index"], e["channel"], int(e["guitar"]), _now()) for e in changes))
            _count_change(catalog)
    except CatalogError as error:
        raise LabelError(str(error)) from error
    return len(changes)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
