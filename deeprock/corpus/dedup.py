"""Duplicate groups in a catalog: exact copies, same music, transposed copies, versions of a song.

    groups = find_duplicates(catalog)   # [DuplicateGroup(kind, files)], paths as catalog.files()

Kinds, strongest first; a weaker kind sees only one representative (the first path) of each
group of the stronger kinds, so no group is repeated as a weaker kind:
- exact: the same md5;
- content: the same content_key (fingerprint.py: the notes in beats) with different bytes;
- transposed: the same transposed_key with different notes;
- version: other files of the same song, either (a) named as numbered copies in one folder
  (NUMBERED) and sharing at least NAMED_JACCARD of their shingles, or (b) under any names,
  sharing at least SIMILAR_JACCARD of their uncommon shingles, found through MinHash LSH
  rather than all pairs. Versions link transitively; each unit (a file and its stronger
  duplicates) is shown by one file.

Shingles (shingles.py) are n-grams of a file's guitar token streams that survive
transposition and re-voicing. The search of (b) is lsh.py's, over band keys kept in the catalog.
Thresholds were measured on the shared corpus (1181 files) and on demo corpora (comments).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from deeprock.corpus import lsh
from deeprock.corpus.catalog import Catalog
from deeprock.corpus.groups import components
from deeprock.corpus.shingles import similar

KINDS = ("exact", "content", "transposed", "version")
# distinct songs in one folder: at most 0.09 on the shared corpus; the demo corpora, made of
# riff clichés, reach 0.31, but never give two songs one title
NAMED_JACCARD = 0.2
NAMED_MIN_SHARED = 5  # fewer shared shingles is too little evidence (a loop riff: ~8)


@dataclass
class DuplicateGroup:
    kind: str  # one of KINDS
    files: list[str]  # paths relative to the scanned root, sorted

    def to_dict(self) -> dict:
        return {"kind": self.kind, "files": list(self.files)}


Cluster = list[dict]  # file rows known to be duplicates of each other; [0] is the representative


def find_duplicates(catalog: Catalog) -> list[DuplicateGroup]:
    """Every duplicate group of the catalog, kind by kind (KINDS order), then by first path."""
    with catalog.exclusive("dedup"):  # the store is written: one process at a time
        last, sharing = lsh.sharing_files(catalog)
        clusters = [[row] for row in catalog.duplicate_keys(sharing)]
        groups: list[DuplicateGroup] = []
        for kind, key in (("exact", "md5"), ("content", "content_key"),
                          ("transposed", "transposed_key")):
            clusters, found = _merge(clusters, key)
            groups += [DuplicateGroup(kind, [c[0]["path"] for c in merged]) for merged in found]
        groups += [DuplicateGroup("version", files)
                   for files in _versions(catalog, clusters, last)]
    return sorted(groups, key=lambda g: (KINDS.index(g.kind), g.files))


def _merge(clusters: list[Cluster], key: str) -> tuple[list[Cluster], list[list[Cluster]]]:
    """Clusters whose representatives share `key` become one; also returns each such merge."""
    by_key: dict[str, list[Cluster]] = {}
    merged: list[Cluster] = []
    for cluster in clusters:
        value = cluster[0][key]
        if value is None:
            merged.append(cluster)
        else:
            by_key.setdefault(value, []).append(cluster)
    found = [same for same in by_key.values() if len(same) > 1]
    merged += [sorted((row for c in same for row in c), key=lambda r: r["path"])
               for same in by_key.values()]
    return sorted(merged, key=lambda c: c[0]["path"]), found


def _versions(catalog: Catalog, clusters: list[Cluster], last: int) -> list[list[str]]:
    """Version groups over the units: the clusters of duplicate_keys with a transposed_key
    and every other file with one, each unit known by its first file's id; the store brought
    up to change `last` of the catalog's log."""
    keyed = [c for c in clusters if c[0]["transposed_key"] is not None]
    unit_of = {row["id"]: c[0]["id"] if c[0]["transposed_key"] is not None else None
               for c in clusters for row in c}
    lsh.update_store(catalog, [(unit[0]["id"], unit[0]["md5"] or "") for unit in keyed],
                     list(unit_of), last)
    similar = lsh.similar_pairs(catalog)
    # the name already says "same song": clichés count as evidence there (short songs are
    # mostly clichés); lsh's search among all songs leaves them out
    pairs = _named_pairs(catalog, unit_of) | similar
    rows = {unit[0]["id"]: unit for unit in keyed}
    linked = sorted({i for pair in pairs for i in pair})
    rows |= {row["id"]: [row] for row in catalog.duplicate_keys(
        [i for i in linked if i not in rows])}
    found = []
    for members in (m for m in components(linked, pairs) if len(m) > 1):
        folders = Counter(os.path.dirname(row["path"]) for i in members for row in rows[i])
        home = folders.most_common(1)[0][0]
        found.append(sorted(_shown(rows[i], home) for i in members))
    return found


def _shown(unit: Cluster, home: str) -> str:
    """The unit's file in the group's most common folder, so numbered names show side by side."""
    return next((r["path"] for r in unit if os.path.dirname(r["path"]) == home), unit[0]["path"])


def _named_pairs(catalog: Catalog, unit_of: dict[int, int | None]) -> set[tuple[int, int]]:
    """Pairs of units (by id) with a file of the same title in one folder, confirmed by their
    shingles (read for those units only). unit_of: a clustered file's unit (None: none)."""
    shared = []
    for ids in catalog.same_stem():
        units = sorted({unit_of.get(i, i) for i in ids} - {None})
        if len(units) > 1:
            shared.append(units)
    shingles = lsh.load_shingles(catalog, {i for units in shared for i in units})
    return {(first, second) for units in shared
            for at, first in enumerate(units) for second in units[at + 1 :]
            if similar(shingles[first], shingles[second], NAMED_JACCARD, NAMED_MIN_SHARED)}
