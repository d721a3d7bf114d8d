"""What is wrong with a collection, in numbers: `deeprock health --json` and the health page.

    deeprock health --catalog data/demo.sqlite --json
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from deeprock.corpus import dedup, token_store
from deeprock.corpus.catalog import Catalog


def health_report(catalog: Catalog) -> dict:
    """The summary docs/architecture.md promises: counts, guitar decisions, duplicates, tokens."""
    summary = catalog.summary()
    guitars = catalog.guitar_counts()
    kinds = Counter(group.kind for group in dedup.find_duplicates(catalog))
    return {
        "files": summary["files"],
        "ok": summary["ok"],
        "recovered": summary["recovered"],
        "failed": summary["failed"],
        "guitar_files": summary["guitar_files"],
        "guitar_tracks": {"metadata": guitars["metadata"], "inferred": guitars["inferred"]},
        "missing_metadata_files": len({row["file_id"] for row in catalog.missing_metadata()}),
        "duplicates": {kind: kinds.get(kind, 0) for kind in dedup.KINDS},
        "tokens": summary["tokens"],
        "vocabulary": summary["vocabulary"],
    }


def overview(catalog: Catalog) -> dict:
    """The health page's Overview figures, kept beside the catalog per version: summary,
    guitars (guitar_counts), stale (stale_files), repairs ([kind, files], most first) and
    failures; computed, they take seconds of full passes at a million files."""
    return token_store.stored_json(catalog, "overview", lambda: {
        "summary": catalog.summary(), "guitars": catalog.guitar_counts(),
        "stale": catalog.stale_files(), "repairs": repair_counts(catalog).most_common(),
        "failures": catalog.failures()})


def repair_counts(catalog: Catalog) -> Counter:
    """How often each kind of repair was needed ("track 3: ..." counted as its kind)."""
    counts: Counter = Counter()
    for repairs in catalog.repairs():
        for repair in repairs:
            counts[_repair_kind(repair)] += 1
    return counts


def _repair_kind(repair: str) -> str:
    """'track 3: chunk length 9 corrected to 49' → 'chunk length N corrected to N'."""
    return re.sub(r"\b(?!127\b)\d+\b", "N", repair.split(": ", 1)[-1])


def vocabulary_rows(tokens: list[str], counts: np.ndarray) -> list[tuple[str, int, bool]]:
    """(token, count in the stored guitar streams, is a chord), most frequent first; `counts`
    per vocabulary id (token_store.token_counts)."""
    rows = [(token, int(count), " " in token)
            for token, count in zip(tokens, counts, strict=False) if count]
    return sorted(rows, key=lambda row: -row[1])


def song_index(track_files: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each song's file id, each track's song): computed once per window count, not per
    slider move; tracks in catalog order (sorted by file) in one pass, where np.unique's
    sort of 1M took 0.26 s."""
    if np.any(track_files[1:] < track_files[:-1]):
        return np.unique(track_files, return_inverse=True)
    new_song = np.diff(track_files, prepend=-1) != 0  # file ids are never negative
    return track_files[new_song], np.cumsum(new_song) - 1


def window_breakdown(stats, songs: tuple[np.ndarray, np.ndarray], catalog: Catalog,
                     unique_factor: int, rows: slice = slice(0, 200)) -> list[dict]:
    """Windows kept and total per song (file), most dropped first: where repetition lives;
    only `rows` of that order (a page of the table), whose paths alone are read.

    ``songs`` is song_index of the file id of each of stats.keys; O(songs) per call, with no
    sort of all of them: the page's rows are picked by partition, ties in catalog order.
    """
    files, index = songs
    kept, total = stats.per_track(unique_factor)
    song_kept = np.bincount(index, weights=kept, minlength=len(files)).astype(np.int64)
    song_total = np.bincount(index, weights=total, minlength=len(files)).astype(np.int64)
    # most dropped first, ties by position: one unique int64 per song, so partition is exact
    order_key = (song_kept - song_total) * max(len(files), 1) + np.arange(len(files))
    stop = min(rows.stop, len(files))
    first = (np.argpartition(order_key, stop - 1)[:stop] if 0 < stop < len(files)
             else np.arange(len(files)))
    order = [i for i in first[np.argsort(order_key[first])][rows.start:stop] if song_total[i]]
    paths = catalog.file_paths(files[order])
    return [{"path": paths[int(files[i])][1], "windows": int(song_total[i]),
             "kept": int(song_kept[i]), "dropped": int(song_total[i] - song_kept[i])}
            for i in order]
