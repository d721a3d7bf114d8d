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
import re
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
# a name is its title plus an optional number: "Song_2", "Song 2", "Song-2", "Song (2)",
# "Song_v2", or one digit straight after a letter ("Song2", but "Blink182" is a title)
NUMBERED = re.compile(r"(?P<title>.*?[^\W\d_])(?:[ _-]*\(\d{1,2}\)|[ _-]+v?\d{1,2}|\d)?")
# a number after these words is part of the title: "Part 2" is another song than "Part 1"
TITLE_NUMBER_WORDS = {"part", "pt", "vol", "volume", "no", "nr", "number", "op", "opus", "track",
                      "cd", "disc", "act", "chapter", "movement", "mvt", "book", "episode"}


@dataclass
class DuplicateGroup:
    kind: str  # one of KINDS
    files: list[str]  # paths relative to the scanned root, sorted

    def to_dict(self) -> dict:
        return {"kind": self.kind, "files": list(self.files)}


Cluster = list[dict]  # file rows known to be duplicates of each other; [0] is the representative


def find_duplicates(catalog: Catalog) -> list[DuplicateGroup]:
    """Every duplicate group of the catalog, kind by kind (KINDS order), then by first path."""
    clusters = [[row] for row in catalog.duplicate_keys()]
    groups: list[DuplicateGroup] = []
    for kind, key in (("exact", "md5"), ("content", "content_key"),
                      ("transposed", "transposed_key")):
        clusters, found = _merge(clusters, key)
        groups += [DuplicateGroup(kind, [c[0]["path"] for c in merged]) for merged in found]
    units = [c for c in clusters if c[0]["transposed_key"] is not None]
    groups += [DuplicateGroup("version", files) for files in _versions(catalog, units)]
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


def _versions(catalog: Catalog, units: list[Cluster]) -> list[list[str]]:
    """Version groups over units (one per transposed_key), each unit shown by one path."""
    lsh.update_store(catalog, ((unit[0]["id"], unit[0]["md5"] or "") for unit in units))
    index_of = {unit[0]["id"]: index for index, unit in enumerate(units)}
    # the name already says "same song": clichés count as evidence there (short songs are
    # mostly clichés); lsh's search among all songs leaves them out
    pairs = _named_pairs(catalog, units) | {
        (index_of[a], index_of[b]) for a, b in lsh.similar_pairs(catalog)}
    found = []
    for members in (m for m in components(range(len(units)), pairs) if len(m) > 1):
        folders = Counter(os.path.dirname(row["path"]) for i in members for row in units[i])
        home = folders.most_common(1)[0][0]
        found.append(sorted(_shown(units[i], home) for i in members))
    return found


def _shown(unit: Cluster, home: str) -> str:
    """The unit's file in the group's most common folder, so numbered names show side by side."""
    return next((r["path"] for r in unit if os.path.dirname(r["path"]) == home), unit[0]["path"])


def title_stem(path: str) -> str:
    """The folder and title a numbered name shares with its siblings: 'a/Song_2.MID' → 'a/song'."""
    folder, name = os.path.split(path)
    name = re.sub(r"[ _-]+", "_", os.path.splitext(name)[0].casefold().strip())
    match = NUMBERED.fullmatch(name)
    title = match["title"] if match else name
    if title.rsplit("_", 1)[-1] in TITLE_NUMBER_WORDS:
        title = name
    return f"{folder}/{title}"


def _named_pairs(catalog: Catalog, units: list[Cluster]) -> set[tuple[int, int]]:
    """Pairs of units with a file of the same title in one folder, confirmed by their shingles
    (read for those units only)."""
    by_stem: dict[str, set[int]] = {}
    for index, unit in enumerate(units):
        for row in unit:
            by_stem.setdefault(title_stem(row["path"]), set()).add(index)
    shared = [sorted(members) for members in by_stem.values() if len(members) > 1]
    shingles = lsh.load_shingles(catalog, {units[i][0]["id"] for s in shared for i in s})
    pairs = set()
    for ordered in shared:
        sets = [shingles[units[i][0]["id"]] for i in ordered]
        pairs |= {(first, ordered[b]) for a, first in enumerate(ordered)
                  for b in range(a + 1, len(ordered))
                  if similar(sets[a], sets[b], NAMED_JACCARD, NAMED_MIN_SHARED)}
    return pairs
