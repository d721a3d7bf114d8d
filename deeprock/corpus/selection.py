"""The training selection: which guitar tracks train, and the filter settings, as JSON.

Built on the Dataset health page, saved beside the catalog (`data/demo.selection.json` for
`data/demo.sqlite`), read by training and by `deeprock windows --selection FILE`. Tracks are
named by (root, path, index, channel), which survive a rescan; catalog row ids do not.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from deeprock.atomic import read_json, write_atomic
from deeprock.corpus import token_store
from deeprock.corpus.catalog import Catalog

FORMAT_VERSION = 1
DUPLICATE_KINDS = ("exact", "content", "transposed", "version")


@dataclass
class SelectionSettings:
    seq_len: int = 100
    unique_factor: int = 10
    accept_inferred: bool = True
    inferred_threshold: float = 0.9  # inferred guitars at or above this probability train
    one_per_group: list[str] = field(default_factory=lambda: ["exact", "content"])


@dataclass
class Selection:
    catalog: str
    settings: SelectionSettings
    tracks: list[tuple[str, str, int, int]]  # (root, path, index, channel)
    excluded_files: list[str] = field(default_factory=list)  # duplicates kept out

    def to_dict(self) -> dict:
        return {"version": FORMAT_VERSION, "catalog": self.catalog,
                "settings": asdict(self.settings), "tracks": [list(t) for t in self.tracks],
                "excluded_files": self.excluded_files}

    @classmethod
    def from_dict(cls, data: dict) -> Selection:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"selection format {data.get('version')!r} is not "
                             f"{FORMAT_VERSION}: save it again from the Dataset health page")
        try:
            return cls(catalog=str(data["catalog"]),
                       settings=SelectionSettings(**data["settings"]),
                       tracks=[(str(r), str(p), int(i), int(c)) for r, p, i, c in data["tracks"]],
                       excluded_files=[str(f) for f in data.get("excluded_files", [])])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"malformed training selection: {error}") from error

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Selection) and self.to_dict() == other.to_dict()

    def save(self, path: str | os.PathLike) -> None:
        """Atomic: a temporary file renamed over the old one."""
        write_atomic(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Selection:
        return cls.from_dict(read_json(path, "selection"))


def selection_path(catalog_path: str | os.PathLike) -> Path:
    return Path(catalog_path).with_suffix(".selection.json")


def track_ids(catalog: Catalog, selection: Selection) -> set[tuple[int, int, int]]:
    """The catalog's (file_id, index, channel) keys of the selection's tracks."""
    ids = {key: file_id for file_id, key in catalog.file_keys().items()}
    return {(ids[(root, path)], index, channel)
            for root, path, index, channel in selection.tracks if (root, path) in ids}


SOURCES = ("metadata", "inferred")  # a candidate's source as its index; others len(SOURCES)


def candidate_arrays(catalog: Catalog) -> dict[str, np.ndarray]:
    """Catalog.guitar_candidates() as arrays, kept beside the catalog per version: keys (n, 3)
    int64, source (SOURCES' index), probability; a million rows read once, not per choice."""
    def read() -> dict[str, np.ndarray]:
        rows = catalog.guitar_candidates()
        return {"keys": np.array([row[:3] for row in rows], np.int64).reshape(-1, 3),
                "source": np.array([SOURCES.index(row[3]) if row[3] in SOURCES
                                    else len(SOURCES) for row in rows], np.uint8),
                "probability": np.array([row[4] for row in rows], np.float64)}

    return token_store.stored_arrays(catalog, "candidates", ("keys", "source", "probability"),
                                     read)


def selected_keys(catalog: Catalog, settings: SelectionSettings, groups: list) -> np.ndarray:
    """The (file_id, index, channel) keys build_selection chooses, as an (n, 3) array, without
    the paths: what the health page's window counts need; a group's excluded files are
    found by their paths' index, not by reading every path."""
    candidates = candidate_arrays(catalog)
    source, keys = candidates["source"], candidates["keys"]
    chosen = (source == SOURCES.index("metadata")) | (
        (source == SOURCES.index("inferred")) & settings.accept_inferred
        & (candidates["probability"] >= settings.inferred_threshold))
    excluded = excluded_paths(settings, groups)
    if excluded:
        chosen &= ~np.isin(keys[:, 0], catalog.ids_with_paths(excluded))
    return np.asarray(keys[chosen])


def build_selection(catalog: Catalog, settings: SelectionSettings, groups: list) -> Selection:
    """Guitar tracks by metadata, inferred ones at or above the threshold when accepted, less
    all but the first file of each duplicate group of the kinds in ``one_per_group``."""
    files = catalog.file_keys()
    tracks = [(*files[file_id], index, channel)
              for file_id, index, channel in selected_keys(catalog, settings, groups).tolist()]
    return Selection(catalog.path, settings, tracks, sorted(excluded_paths(settings, groups)))


def excluded_paths(settings: SelectionSettings, groups: list) -> set[str]:
    """All but the first file of each duplicate group of the kinds in ``one_per_group``."""
    return {path for group in groups if group.kind in settings.one_per_group
            for path in group.files[1:]}
