"""Saved riffs: data/riffs/NAME/ with its files and settings.json, to replay, rename, delete.

    path = save_riff("data/riffs", "heavy one", riff, files, record)
    entries = list_riffs("data/riffs")          # newest first
    rename_riff("data/riffs", "heavy_one", "keeper"); delete_riff("data/riffs", "keeper")

settings.json holds the run, the primer, every sampling setting, the seed and the riff itself,
so a riff can be replayed without its run and regenerated exactly with it. Names are sanitized
(no folders, no dots first) and every file is written atomically; a full or read-only disk gives
one GalleryError naming the folder and the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from deeprock.atomic import write_atomic
from deeprock.generation.outputs import FILE_NAMES, RiffFiles
from deeprock.generation.riff import Riff

SETTINGS = "settings.json"
DEFAULT_ROOT = Path("data/riffs")
MAX_NAME = 60


class GalleryError(RuntimeError):
    """The gallery cannot do what was asked (disk, name, missing riff); the message says why."""


@dataclass
class GalleryEntry:
    name: str
    path: Path
    saved: float
    record: dict

    @property
    def riff(self) -> Riff:
        return Riff.from_dict(self.record["riff"])

    def file(self, kind: str) -> bytes | None:
        """One saved file's bytes (kind as in outputs.FORMATS), None when it was not saved."""
        try:
            return (self.path / FILE_NAMES[kind]).read_bytes()
        except OSError:
            return None


def riffs_root() -> Path:
    """Where the gallery lives: data/riffs, or $DEEPROCK_RIFFS (tests, several checkouts)."""
    return Path(os.environ.get("DEEPROCK_RIFFS", DEFAULT_ROOT))


def riff_name(text: str) -> str:
    """A folder name from what the user typed: letters, digits, '-', '_'; never empty."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", text.strip()).strip("_-")[:MAX_NAME]
    if not name:
        raise GalleryError(f"{text!r} is not a usable riff name: use letters or digits")
    return name


def _unused(root: Path, name: str) -> str:
    candidate, number = name, 2
    while (root / candidate).exists():
        candidate, number = f"{name}-{number}", number + 1
    return candidate


def save_riff(root: str | os.PathLike, name: str, riff: Riff, files: RiffFiles,
              record: dict) -> Path:
    """A new folder under root (a number appended when the name is taken) with every file."""
    root = Path(root)
    folder = root / _unused(root, riff_name(name))
    record = {**record, "riff": riff.to_dict(), "saved": time.time(), "name": folder.name}
    try:
        folder.mkdir(parents=True)
        for kind, data in files.data.items():
            write_atomic(folder / FILE_NAMES[kind], data)
        write_atomic(folder / SETTINGS, json.dumps(record, indent=1, sort_keys=True))
    except OSError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise GalleryError(f"cannot save the riff in {root}: {error.strerror or error}") from error
    return folder


def list_riffs(root: str | os.PathLike = DEFAULT_ROOT) -> list[GalleryEntry]:
    """Every saved riff with a readable settings.json, newest first."""
    entries = []
    for settings in Path(root).glob(f"*/{SETTINGS}"):
        try:
            record = json.loads(settings.read_text(encoding="utf-8"))
            Riff.from_dict(record["riff"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged or foreign folder is not a riff
        entries.append(GalleryEntry(settings.parent.name, settings.parent,
                                    float(record.get("saved", 0.0)), record))
    return sorted(entries, key=lambda entry: -entry.saved)


def _existing(root: Path, name: str) -> Path:
    folder = root / riff_name(name)
    if riff_name(name) != name or not (folder / SETTINGS).is_file():
        raise GalleryError(f"no saved riff named {name!r} in {root}")
    return folder


def rename_riff(root: str | os.PathLike, name: str, new_name: str) -> Path:
    root = Path(root)
    folder = _existing(root, name)
    target = root / riff_name(new_name)
    if target.exists():
        raise GalleryError(f"a riff named {target.name!r} already exists in {root}")
    try:
        folder.rename(target)
        settings = target / SETTINGS
        record = json.loads(settings.read_text(encoding="utf-8"))
        write_atomic(settings, json.dumps({**record, "name": target.name}, indent=1,
                                          sort_keys=True))
    except OSError as error:
        raise GalleryError(f"cannot rename {name!r} in {root}: "
                           f"{error.strerror or error}") from error
    return target


def delete_riff(root: str | os.PathLike, name: str) -> None:
    root = Path(root)
    folder = _existing(root, name)
    try:
        shutil.rmtree(folder)
    except OSError as error:
        raise GalleryError(f"cannot delete {name!r} in {root}: "
                           f"{error.strerror or error}") from error
