"""Nothing is half-written: every file the project saves goes through here (and JSON is read
back with one error message)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write a uniquely named temporary file beside the target, then rename it over the target.

    Readers see the old file or the new one, never a part; a crash leaves no temporary behind.
    """
    with writing(path) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextmanager
def writing(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """write_atomic for a file written piece by piece (too large to hold whole): a handle on a
    temporary beside `path`, renamed over it when the block ends, removed when it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with open(temporary, "wb") as handle:  # opened by name: handle.name is the path
            yield handle
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_json(path: str | os.PathLike, what: str):
    """The JSON document at path; ValueError naming `what`, the file and the problem."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read {what} {path}: {error.strerror}") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{what} {path} is not JSON: {error}") from error
