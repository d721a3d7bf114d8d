"""An exclusive lock on a file, held by an open handle: the kernel drops it when its owner
exits, even on kill -9, so a crashed scan or training never leaves a stale lock behind. The file
holds a short record of the owner (its pid, its run) for the messages of whoever finds it busy.

    handle = take("x.lock", record="1234")     # LockBusy(record of the holder) when held
    ...; handle.close()                        # releases
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from typing import IO


class LockBusy(RuntimeError):
    """Another process holds the lock; `record` is what it wrote (None when unreadable)."""

    def __init__(self, record: str | None) -> None:
        super().__init__(f"held by {record or 'another process'}")
        self.record = record


def record(path: str | os.PathLike) -> str | None:
    """What the holder (or the last holder) wrote, if readable."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def take(path: str | os.PathLike, record_text: str, wait: bool = False,
         on_wait: Callable[[str | None], None] | None = None) -> IO[str]:
    """The open, locked handle (close it to release). Busy: wait (telling on_wait the holder's
    record) or raise LockBusy. OSError when the file cannot be created."""
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held until the owner is done
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise LockBusy(record(path)) from None
            if on_wait:
                on_wait(record(path))
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(record_text)
        handle.flush()
    except BaseException:
        handle.close()
        raise
    return handle


def held(path: str | os.PathLike) -> bool:
    """Whether some process holds the lock now (a file left behind by a dead one is free)."""
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False
