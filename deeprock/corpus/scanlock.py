"""One scan at a time per catalog: an exclusive lock on a file beside it.

    with scan_lock("data/demo.sqlite", wait=False):   # ScanBusy at once if another scan runs
        ...

Two scans writing one catalog would race on the new vocabulary ids. The lock is an flock on
`CATALOG.lock`, holding the owner's pid for the message; the kernel drops it when the owner
exits, even on kill -9, so a crashed scan never leaves a stale lock behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from deeprock import filelock
from deeprock.corpus.catalog import CatalogError


class ScanBusy(RuntimeError):
    """Another scan holds the catalog; the message says which process."""


def lock_path(catalog_path: str | os.PathLike) -> str:
    return os.fspath(catalog_path) + ".lock"


def holder(catalog_path: str | os.PathLike) -> int | None:
    """The pid written by the scan that holds (or last held) the lock, if readable."""
    text = filelock.record(lock_path(catalog_path))
    return int(text) if text and text.isdigit() else None


def busy_message(catalog_path: str | os.PathLike, pid: int | None, waiting: bool) -> str:
    who = f"the scan with pid {pid}" if pid else "another scan"
    if waiting:
        return f"waiting for {who} to finish writing {os.fspath(catalog_path)}…"
    return f"{who} is writing {os.fspath(catalog_path)}; try again when it has finished"


@contextmanager
def scan_lock(catalog_path: str | os.PathLike, wait: bool = False,
              on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the catalog's scan lock; busy: wait (telling on_wait why) or raise ScanBusy."""
    path = lock_path(catalog_path)

    def tell(_: str | None) -> None:
        if on_wait:
            on_wait(busy_message(catalog_path, holder(catalog_path), waiting=True))

    try:
        handle = filelock.take(path, str(os.getpid()), wait=wait, on_wait=tell)
    except filelock.LockBusy:
        raise ScanBusy(busy_message(catalog_path, holder(catalog_path), waiting=False)) from None
    except OSError as error:
        raise CatalogError(f"cannot use catalog {os.fspath(catalog_path)}: cannot create its "
                           f"scan lock {path}: {error.strerror}") from error
    with handle:  # closing releases the flock
        yield
