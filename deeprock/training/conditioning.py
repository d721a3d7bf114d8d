"""A conditioned run's artist table (artists.json): which artist id the model was given.

    table = ArtistTable.build(file_artists(catalog), training_files, min_files=20)
    table.save(run / runs.ARTISTS); ArtistTable.load(run / runs.ARTISTS) == table
    table.id_of("nirvana")          # the model's "artists" input; ValueError with near names

Id 0 is "any": a share of the training windows is fed as it, so a conditioned run still
generates unconditioned. Artists with fewer than `min_files` files share "other" (id 1 when
there is one), so a rare artist never gets an embedding learned from a handful of windows.
No Keras here.
"""

from __future__ import annotations

import difflib
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeprock.atomic import read_json, write_atomic
from deeprock.training import runs

FORMAT_VERSION = 1
ANY, OTHER = "any", "other"
CONDITIONS = ("none", "artist")


@dataclass
class ArtistTable:
    """ids: name → model input id ("any" 0, "other" 1 if pooled, then the artists A-Z);
    files: each name's file count among the run's files; pooled: the artists folded into
    "other"."""

    ids: dict[str, int]
    files: dict[str, int] = field(default_factory=dict)
    pooled: list[str] = field(default_factory=list)
    min_files: int = 20

    @classmethod
    def build(cls, artists: dict[int, str], file_ids: Iterable[int],
              min_files: int) -> ArtistTable:
        """The table of the run's files (file id → artist from corpus.artists.file_artists)."""
        counts = Counter(artists[file_id] for file_id in set(file_ids))
        kept = sorted(name for name, count in counts.items() if count >= min_files)
        pooled = sorted(name for name in counts if name not in kept)
        names = [ANY, *([OTHER] if pooled else []), *kept]
        files = {name: counts[name] for name in kept}
        if pooled:
            files[OTHER] = sum(counts[name] for name in pooled)
        files[ANY] = sum(counts.values())
        return cls({name: index for index, name in enumerate(names)}, files, pooled, min_files)

    def __len__(self) -> int:
        return len(self.ids)

    def input_id(self, artist: str) -> int:
        """The id a file of `artist` trains under: its own, "other", or "any" for an artist
        the table never saw (a fine-tuning selection's)."""
        return self.ids.get(artist, self.ids.get(OTHER, 0))

    def known_id(self, name: str) -> int | None:
        """The id of an artist the table knows (a pooled one's: "other"), else None."""
        if name in self.ids:
            return self.ids[name]
        return self.ids[OTHER] if name in self.pooled else None

    def id_of(self, name: str) -> int:
        """A name asked for (generation): an unknown one is a ValueError with the nearest."""
        known = self.known_id(name)
        if known is not None:
            return known
        near = difflib.get_close_matches(name, [*self.ids, *self.pooled], n=3, cutoff=0.4)
        raise ValueError(f"no artist {name!r} in this run" + (
            f" (nearest: {', '.join(near)})" if near else "") + f"; it knows "
            f"{', '.join(self.ids)}")

    def members(self, name: str) -> tuple[str, ...]:
        """The catalog artists a name stands for: "any" none (every artist), "other" the
        pooled ones, an artist itself."""
        if name == ANY:
            return ()
        return tuple(self.pooled) if name == OTHER else (name,)

    def choices(self) -> list[tuple[str, int]]:
        """(name, files) in id order: what the Generate page offers."""
        return [(name, self.files.get(name, 0)) for name in self.ids]

    def track_ids(self, files: list[int], artists: dict[int, str],
                  unknown_as_any: bool = False) -> np.ndarray:
        """One input id per track of a side (its file's artist); unknown_as_any: an artist the
        table never saw is fed as "any" (scoring another catalog), not as "other"."""
        def one(artist: str) -> int:
            known = self.known_id(artist)
            if known is None:
                return 0 if unknown_as_any else self.input_id(artist)
            return known

        return np.array([one(artists.get(file_id, ANY)) for file_id in files], np.int32)

    def to_dict(self) -> dict:
        return {"version": FORMAT_VERSION, "ids": self.ids, "files": self.files,
                "pooled": self.pooled, "min_files": self.min_files}

    @classmethod
    def from_dict(cls, data: dict) -> ArtistTable:
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError(f"artist table format {data.get('version')!r} is not "
                             f"{FORMAT_VERSION}" if isinstance(data, dict) else
                             "an artist table is a JSON object")
        ids = {str(name): int(index) for name, index in data["ids"].items()}
        if sorted(ids.values()) != list(range(len(ids))) or ids.get(ANY) != 0:
            raise ValueError("artist ids must run 0..n-1 with 'any' at 0")
        return cls(ids, {str(k): int(v) for k, v in data.get("files", {}).items()},
                   [str(name) for name in data.get("pooled", [])], int(data.get("min_files", 0)))

    def save(self, path: str | os.PathLike) -> None:
        write_atomic(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> ArtistTable:
        try:
            return cls.from_dict(read_json(path, "artist table"))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from error


@dataclass
class RunArtists:
    """What a conditioned run feeds: its table and each side's per-track artist ids."""

    table: ArtistTable
    train: np.ndarray
    validation: np.ndarray


def artist_inputs(config, data, run: Path | None = None) -> RunArtists | None:
    """A conditioned run's artists (None for one without): the table in the run folder if it
    has one (a resume), else its parent's (a fine-tuning keeps the ids its weights learned),
    else built from the run's files; saved into the run folder."""
    from deeprock.corpus.artists import file_artists
    from deeprock.corpus.catalog import Catalog
    from deeprock.training.models import takes_artists

    if not takes_artists(config.model):
        return None
    with Catalog(config.catalog) as catalog:
        artists = file_artists(catalog)
    saved = [folder / runs.ARTISTS for folder in (run, config.init_from and Path(
        config.init_from)) if folder and (folder / runs.ARTISTS).is_file()]
    if saved:
        table = ArtistTable.load(saved[0])
    else:
        table = ArtistTable.build(artists, [*data.train.files, *data.validation.files],
                                  config.train.min_artist_files)
    if run is not None and saved[:1] != [run / runs.ARTISTS]:
        table.save(run / runs.ARTISTS)
    return RunArtists(table, table.track_ids(data.train.files, artists),
                      table.track_ids(data.validation.files, artists))


def window_artists(offsets: np.ndarray, track_ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each window's artist id: its track's (a window never crosses a track)."""
    tracks = np.searchsorted(offsets, starts, side="right") - 1
    return track_ids[tracks]
