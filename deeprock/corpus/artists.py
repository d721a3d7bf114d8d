"""Who played each file: its artist from its path, by a rule the user can change.

    rule = ArtistRule.load(artists_path(catalog.path))   # defaults when the file is missing
    artist_of("n/nirvana/Lithium.mid", rule)             # "nirvana"
    file_artists(catalog, rule)                           # file id -> artist

The default rule takes the folder above the file (`letter/artist/song.mid` and `artist/song.mid`
alike); `level` N takes the Nth folder under the scanned root instead (`artist/album/song.mid`:
level 1); `overrides` name the artist of every file under a folder, the longest folder winning.
A file with no folder to take is filed under its root's own name. The rule lives in a JSON file
beside the catalog (like the training selection), so the catalog's schema never changes for it.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from deeprock.atomic import read_json, write_atomic
from deeprock.corpus.catalog import Catalog

FORMAT_VERSION = 1


@dataclass
class ArtistRule:
    level: int | None = None  # None: the folder above the file; N: the Nth folder under the root
    overrides: dict[str, str] = field(default_factory=dict)  # folder (under the root) -> artist

    def __post_init__(self) -> None:
        if self.level is not None and (not isinstance(self.level, int) or self.level < 1):
            raise ValueError(f"artist level must be a whole number from 1, not {self.level!r}")

    def to_dict(self) -> dict:
        return {"version": FORMAT_VERSION, "level": self.level, "overrides": self.overrides}

    @classmethod
    def from_dict(cls, data: dict) -> ArtistRule:
        version = data.get("version") if isinstance(data, dict) else None
        if version != FORMAT_VERSION:
            raise ValueError(f"artist rule format {version!r} is not {FORMAT_VERSION}")
        overrides = data.get("overrides", {})
        if not isinstance(overrides, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in overrides.items()):
            raise ValueError("artist overrides must map folder names to non-empty artist names")
        return cls(level=data.get("level"),
                   overrides={k.strip("/"): v for k, v in overrides.items()})

    def save(self, path: str | os.PathLike) -> None:
        write_atomic(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> ArtistRule:
        """The rule in the file; the default rule when there is none. A broken file is a
        ValueError naming it: a silently ignored rule would mislabel every artist."""
        if not Path(path).is_file():
            return cls()
        try:
            return cls.from_dict(read_json(path, "artist rule"))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error


def artists_path(catalog_path: str | os.PathLike) -> Path:
    return Path(catalog_path).with_suffix(".artists.json")


def artist_of(path: str, rule: ArtistRule, root: str = "") -> str:
    """The artist of the file at `path` (relative to its scanned `root`)."""
    folders = PurePosixPath(path.replace(os.sep, "/")).parts[:-1]
    for depth in range(len(folders), 0, -1):
        artist = rule.overrides.get("/".join(folders[:depth]))
        if artist is not None:
            return artist
    if rule.level is not None and len(folders) >= rule.level:
        return folders[rule.level - 1]
    return folders[-1] if folders else (Path(root).name or root)


def file_artists(catalog: Catalog, rule: ArtistRule | None = None) -> dict[int, str]:
    """Every catalog file's artist, by the rule beside the catalog unless one is given."""
    rule = rule if rule is not None else ArtistRule.load(artists_path(catalog.path))
    by_folder: dict[tuple[str, str], str] = {}  # the rule reads folders only: once per folder
    artists = {}
    for file_id, (root, path) in catalog.file_keys().items():
        folder = (root, path.replace(os.sep, "/").rpartition("/")[0])
        if folder not in by_folder:
            by_folder[folder] = artist_of(path, rule, root)
        artists[file_id] = by_folder[folder]
    return artists


def artist_table(catalog: Catalog, rule: ArtistRule | None = None) -> list[dict]:
    """Per artist: files, guitar tracks and guitar tokens, largest first (the health page's)."""
    artists = file_artists(catalog, rule)
    rows: dict[str, dict] = {}
    for artist in artists.values():
        rows.setdefault(artist, {"artist": artist, "files": 0, "guitar_tracks": 0, "tokens": 0})
        rows[artist]["files"] += 1
    for file_id, tracks, tokens in catalog.guitar_totals():
        row = rows[artists[file_id]]
        row["guitar_tracks"] += tracks
        row["tokens"] += tokens
    return sorted(rows.values(), key=lambda row: (-row["files"], row["artist"]))


def files_of(catalog: Catalog, names: list[str], rule: ArtistRule | None = None) -> set[int]:
    """The ids of the named artists' files; an unknown name is a ValueError with the nearest
    names, so a typo is never an empty training set."""
    artists = file_artists(catalog, rule)
    known = set(artists.values())
    unknown = [name for name in names if name not in known]
    if unknown:
        nearest = {name: difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.4)
                   for name in unknown}
        raise ValueError("; ".join(f"no artist {name!r} in {catalog.path}"
                                   + (f" (nearest: {', '.join(close)})" if close else "")
                                   for name, close in nearest.items()))
    wanted = set(names)
    return {file_id for file_id, artist in artists.items() if artist in wanted}
