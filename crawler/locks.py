"""Exclusive flock-based locks: one daemon per database, one crawl per source at a time."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO


def source_lock_path(lock_dir: Path, source_id: str) -> Path:
    """Where the lock of one source's crawls lives (`<db>-locks/source-ID.lock`)."""
    return lock_dir / f"source-{source_id}.lock"


class Lock:
    """An exclusive flock on a file, held while open; None from `take` when another holds it.

    The kernel drops it when its holder dies, however it dies (kill -9 included). A crawl
    child inherits its source's lock, so a crawl left running by a daemon killed with -9
    still holds it and the next daemon does not start a second crawl of that source.
    """

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    @classmethod
    def take(cls, path: Path) -> Lock | None:
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return cls(handle)

    def fileno(self) -> int:
        return self.handle.fileno()

    def write(self, text: str) -> None:
        self.handle.truncate(0)
        self.handle.write(text)
        self.handle.flush()

    def release(self) -> None:
        self.handle.close()
