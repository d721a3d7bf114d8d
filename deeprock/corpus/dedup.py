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

Shingles are n-grams of a file's guitar token streams (the undecided ones when it has none):
each token as its chord shape, the interval of its lowest pitch from the previous token's and
its onset delta, so a transposed or re-voiced copy still shares them. For (b), shingles found in
many songs (riff clichés) are dropped first: they made distinct songs look alike.
Thresholds were measured on the shared corpus (1181 files) and on demo corpora (comments).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash, MinHashLSH

from deeprock.corpus.catalog import Catalog
from deeprock.corpus.groups import components
from deeprock.music.tokens import token_pitches

KINDS = ("exact", "content", "transposed", "version")
# Measured on the shared corpus: distinct songs in one folder share at most 0.13 of their
# 4-grams, 0.09 of their 6-grams; 8-grams confirm fewer numbered versions (55 pairs, not 59)
NGRAM = 6
# distinct songs in one folder: at most 0.09 on the shared corpus; the demo corpora, made of
# riff clichés, reach 0.31, but never give two songs one title
NAMED_JACCARD = 0.2
# distinct songs anywhere, clichés dropped: at most 0.08 on the shared corpus, 0.21 on the
# demo corpora (40 to 400 files, 12 seeds)
SIMILAR_JACCARD = 0.5
# fewer shared shingles is too little evidence, whatever the Jaccard (a loop riff: ~8 shingles)
NAMED_MIN_SHARED, SIMILAR_MIN_SHARED = 5, 10
COMMON_UNITS, COMMON_SHARE = 10, 0.01  # a shingle in more songs than both of these is a cliché
# LSH: 42 bands of 3 rows. A pair at Jaccard J becomes a candidate with odds 1 - (1 - J^3)^42:
# 0.996 at J = 0.5 (datasketch's own choice for a 0.35 threshold, 32 x 4, gave 0.87), 0.04 at 0.1
NUM_PERM, LSH_BANDS, LSH_ROWS = 128, 42, 3
MAX_DELTA = 255  # twelfths (5 bars of 4/4); longer rests all count as this long
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
    clusters = [[row] for row in sorted(catalog.files(), key=lambda row: row["path"])]
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
    shingles = _unit_shingles(catalog, units)
    # the name already says "same song": clichés count as evidence there (short songs are
    # mostly clichés), but a search among all songs must leave them out
    pairs = _named_pairs(units, shingles) | _similar_pairs(_drop_common(shingles))
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


def _named_pairs(units: list[Cluster], shingles: list[np.ndarray]) -> set[tuple[int, int]]:
    """Pairs of units with a file of the same title in one folder, confirmed by their shingles."""
    by_stem: dict[str, set[int]] = {}
    for index, unit in enumerate(units):
        for row in unit:
            by_stem.setdefault(title_stem(row["path"]), set()).add(index)
    pairs = set()
    for members in by_stem.values():
        ordered = sorted(members)
        for at, first in enumerate(ordered):
            pairs |= {(first, other) for other in ordered[at + 1 :]
                      if _similar(shingles[first], shingles[other], NAMED_JACCARD,
                                  NAMED_MIN_SHARED)}
    return pairs


def _similar(first: np.ndarray, second: np.ndarray, jaccard: float, min_shared: int) -> bool:
    shared = len(np.intersect1d(first, second, assume_unique=True))
    return shared >= min_shared and shared >= jaccard * (len(first) + len(second) - shared)


def _similar_pairs(shingles: list[np.ndarray]) -> set[tuple[int, int]]:
    """Pairs at SIMILAR_JACCARD or more: LSH proposes candidates, exact sets decide."""
    lsh = MinHashLSH(num_perm=NUM_PERM, params=(LSH_BANDS, LSH_ROWS))
    template = MinHash(NUM_PERM, hashfunc=int)
    sketches = {}
    with lsh.insertion_session() as session:
        for index, values in enumerate(shingles):
            if len(values) >= SIMILAR_MIN_SHARED:
                sketch = template.copy()
                sketch.update_batch(values.tolist())
                session.insert(index, sketch, check_duplication=False)
                sketches[index] = sketch
    pairs = set()
    for index, sketch in sketches.items():
        pairs |= {(index, other) for other in lsh.query(sketch) if other > index
                  and _similar(shingles[index], shingles[other], SIMILAR_JACCARD,
                               SIMILAR_MIN_SHARED)}
    return pairs


def _unit_shingles(catalog: Catalog, units: list[Cluster]) -> list[np.ndarray]:
    """Sorted unique uint32 shingles of each unit's representative file: its guitar streams,
    or, when it has none long enough, its other stored streams (melody, undecided)."""
    shape, lowest = _token_tables(catalog.vocabulary.tokens)
    index_of = {unit[0]["id"]: index for index, unit in enumerate(units)}
    parts: list[list[np.ndarray]] = [[] for _ in units]
    for guitar_only in (True, False):
        wanted = {index for index, found in enumerate(parts) if not found}
        for stream in catalog.streams(guitar_only=guitar_only):
            index = index_of.get(stream.file_id)
            if index in wanted and len(stream.ids) >= NGRAM:
                parts[index].append(_stream_shingles(stream.ids, stream.delta, shape, lowest))
    return [np.unique(np.concatenate(found)) if found else np.zeros(0, np.uint32)
            for found in parts]


def _token_tables(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per token id: its chord shape (intervals above the lowest note, as an id), lowest pitch."""
    shapes: dict[tuple[int, ...], int] = {}
    shape, lowest = np.zeros(len(tokens), np.int64), np.zeros(len(tokens), np.int64)
    for i, token in enumerate(tokens):
        pitches = token_pitches(token)
        lowest[i] = pitches[0]
        shape[i] = shapes.setdefault(tuple(p - pitches[0] for p in pitches), len(shapes))
    return shape, lowest


def _stream_shingles(ids: np.ndarray, delta: np.ndarray, shape: np.ndarray,
                     lowest: np.ndarray) -> np.ndarray:
    """n-grams of (chord shape, interval from the previous lowest pitch, onset delta).

    An n-gram that only repeats one sonority is left out: it holds a rhythm and nothing else,
    and one strummed chord in one rhythm made distinct songs look alike.
    """
    low, shapes = lowest[ids], shape[ids]
    interval = np.zeros(len(ids), np.int64)
    interval[1:] = low[1:] - low[:-1]
    element = (shapes << 16) | ((interval + 128) << 8) | np.minimum(delta, MAX_DELTA)
    element = element.astype(np.uint64)
    count = len(element) - NGRAM + 1
    gram = np.zeros(count, np.uint64)
    for k in range(NGRAM):  # a loop over the n-gram's positions, vectorized over the stream
        gram = gram * np.uint64(0x100000001B3) ^ element[k : k + count]
    moves = np.zeros(len(ids) + 1, np.int64)  # moves[i]: sonority changes before token i
    moves[2:] = np.cumsum((interval[1:] != 0) | (shapes[1:] != shapes[:-1]))
    static = moves[NGRAM : NGRAM + count] == moves[1 : 1 + count]
    return (_mix64(gram[~static]) >> np.uint64(32)).astype(np.uint32)


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, so the kept 32 bits depend on every element of the n-gram."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _drop_common(shingles: list[np.ndarray]) -> list[np.ndarray]:
    """Remove the clichés: shingles in more than max(COMMON_UNITS, COMMON_SHARE) of the units."""
    if not shingles:
        return shingles
    values, counts = np.unique(np.concatenate(shingles), return_counts=True)
    common = values[counts > max(COMMON_UNITS, COMMON_SHARE * len(shingles))]
    return [s[~np.isin(s, common, assume_unique=True)] if len(common) else s for s in shingles]
