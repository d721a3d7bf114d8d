"""What is wrong with a collection, in numbers: `deeprock health --json` and the health page.

    deeprock health --catalog data/demo.sqlite --json
"""

from __future__ import annotations

from collections import Counter

from deeprock import dedup
from deeprock.catalog import Catalog


def health_report(catalog: Catalog) -> dict:
    """The contract's summary (DESIGN.md): counts, guitar decisions, duplicates, tokens."""
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


def repair_counts(catalog: Catalog) -> Counter:
    """How often each kind of repair was needed ("track 3: ..." counted as its kind)."""
    counts: Counter = Counter()
    for repairs in catalog.repairs():
        for repair in repairs:
            counts[_repair_kind(repair)] += 1
    return counts


def _repair_kind(repair: str) -> str:
    kind = repair.split(": ", 1)[-1]
    return "".join(c for c in kind if not c.isdigit()).replace("  ", " ").strip()


def vocabulary_rows(catalog: Catalog) -> list[tuple[str, int, bool]]:
    """(token, count in guitar tracks, is a chord), most frequent first."""
    counts = catalog.token_counts(guitar_only=True)
    rows = [(token, int(count), " " in token)
            for token, count in zip(catalog.vocabulary.tokens, counts, strict=True) if count]
    return sorted(rows, key=lambda row: -row[1])


def window_breakdown(stats, paths: dict[int, tuple[str, str]], unique_factor: int) -> list[dict]:
    """Windows kept and total per song (file), most dropped first: where repetition lives."""
    kept, total = stats.per_track(unique_factor)
    songs: dict[int, list[int]] = {}
    for (file_id, _, _), track_kept, track_total in zip(stats.keys, kept.tolist(),
                                                         total.tolist(), strict=True):
        song = songs.setdefault(file_id, [0, 0])
        song[0] += track_kept
        song[1] += track_total
    rows = [{"path": paths[file_id][1], "windows": windows, "kept": kept_windows,
             "dropped": windows - kept_windows}
            for file_id, (kept_windows, windows) in songs.items() if windows]
    return sorted(rows, key=lambda row: -row["dropped"])
