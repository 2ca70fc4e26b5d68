"""Exclusive locks: one daemon per database, one crawl per source at a time.

One interface, two mechanisms, chosen by the store's location (`open_locks`):
- a SQLite file: flocks on files beside it (`<db>-locks/`), dropped by the kernel when their
  holder dies, however it dies (kill -9 included);
- a postgresql:// URL: session advisory locks (`pg_try_advisory_lock`) on a connection of the
  holder's own, so processes on different machines sharing the store take turns, and the
  server drops the lock when the holder's session ends (its process killed, its machine gone).
Each is held by the process that crawls (a worker, a `crawl --hold-locks` child, or the daemon
for a node's job), never handed across processes.

An advisory lock lives and dies with its session: a server restart ends it. `Held.held()` says
whether a lock is still there; the daemon asks of its own before each poll and takes it again
(crawler/daemon.py), and each crawl takes its source's lock anew.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from crawler.postgres import NOTIFY_LOCK, connect, is_postgres_url

T = TypeVar("T")
# The first half of the daemon lock's two-part advisory key ("foll"); source locks use one-part
# keys, which PostgreSQL keeps apart from two-part ones.
DAEMON_LOCK_CLASS = 0x666F6C6C
# `followup crawl --hold-locks` exits with this when another process crawls one of its sources
# (EX_TEMPFAIL): nothing was crawled, try again later.
BUSY_EXIT = 75


class Held(Protocol):
    """A lock this process holds until `release`."""

    def release(self) -> None: ...

    def held(self) -> bool:
        """Whether the lock is still this process's (a database session may have ended)."""
        ...


class Locks(Protocol):
    """The locks of one store."""

    def take_source(self, source_id: str) -> Held | None:
        """The lock of one source's crawls, or None while another process holds it."""
        ...

    def take_daemon(self, scope: str) -> Held | None:
        """The daemon's single-instance lock (scope: its seeds directory), or None."""
        ...

    def take_notify(self) -> Held | None:
        """The lock of the one notification sender (crawler.notify.sender), or None."""
        ...

    def describe_daemon(self, scope: str) -> str:
        """Who holds the daemon lock, for the message refusing a second daemon."""
        ...


def open_locks(db: str | Path) -> Locks:
    """The locks of the store at a SQLite file path or a postgresql:// URL."""
    if is_postgres_url(db):
        return PgLocks(str(db))
    return FileLocks(Path(f"{Path(db).resolve()}-locks"))


def wait_for(take: Callable[[], T | None], *, wait: timedelta, poll: float) -> T | None:
    """What `take` gives, tried every `poll` seconds for up to `wait`; None if it never did."""
    deadline = time.monotonic() + wait.total_seconds()
    while (taken := take()) is None and time.monotonic() < deadline:
        time.sleep(poll)
    return taken


def source_lock_path(lock_dir: Path, source_id: str) -> Path:
    """Where the lock of one source's crawls lives (`<db>-locks/source-ID.lock`)."""
    return lock_dir / f"source-{source_id}.lock"


class Lock:
    """An exclusive flock on a file, held while open; None from `take` when another holds it."""

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

    def held(self) -> bool:
        """Always, until released: the kernel drops a flock only with its holder."""
        return not self.handle.closed


class FileLocks:
    """flocks in `<db>-locks/`: one daemon per database file, whatever its seeds."""

    def __init__(self, lock_dir: Path) -> None:
        self.lock_dir = lock_dir

    def take_source(self, source_id: str) -> Lock | None:
        self.lock_dir.mkdir(exist_ok=True)
        return Lock.take(source_lock_path(self.lock_dir, source_id))

    def take_daemon(self, scope: str) -> Lock | None:
        self.lock_dir.mkdir(exist_ok=True)
        lock = Lock.take(self.lock_dir / "daemon.lock")
        if lock is not None:
            lock.write(str(os.getpid()))
        return lock

    def take_notify(self) -> Lock | None:
        self.lock_dir.mkdir(exist_ok=True)
        return Lock.take(self.lock_dir / "notify.lock")

    def describe_daemon(self, scope: str) -> str:
        holder = (self.lock_dir / "daemon.lock").read_text().strip() or "?"
        return f"pid {holder}"


def advisory_key(*parts: str) -> int:
    """A signed 64-bit advisory lock key for a name (sha256: collisions are not a concern)."""
    digest = hashlib.sha256("\0".join(("followup", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PgLock:
    """A session advisory lock on a connection of its own."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def release(self) -> None:
        """Unlocked before the connection closes: the server ends a closed session a moment
        later, and a lock taken again at once (the next poll) must not find it still held."""
        with suppress(sqlite3.DatabaseError):  # a session already gone took its lock with it
            self.db.execute("SELECT pg_advisory_unlock_all()")
        self.db.close()

    def held(self) -> bool:
        """Whether its session is still there (one round trip): a server restart, a failover or
        pg_terminate_backend ends it, and the server drops the lock with it. The session never
        reconnects (`PgDatabase.reconnects` stays off): a new one would hold nothing."""
        if self.db.connection.closed:
            return False
        try:
            self.db.execute("SELECT 1")
        except sqlite3.DatabaseError:
            self.db.close()
            return False
        return True


class PgLocks:
    """Session advisory locks in the store's database. A source's lock is keyed by its id; the
    daemon lock by machine and seeds directory (two-part key, class DAEMON_LOCK_CLASS), so
    daemons on other machines (or with other seeds) share the store, taking turns source by
    source, while a second daemon of the same seeds on one machine is refused."""

    def __init__(self, url: str) -> None:
        self.url = url

    def take_source(self, source_id: str) -> PgLock | None:
        key = advisory_key("source", source_id)
        return self._take(
            "SELECT pg_try_advisory_lock(?::bigint)", [key], f"followup crawl {source_id}"
        )

    def take_notify(self) -> PgLock | None:
        return self._take(
            "SELECT pg_try_advisory_lock(?::bigint)", [NOTIFY_LOCK], "followup notify"
        )

    def take_daemon(self, scope: str) -> PgLock | None:
        name = f"followup daemon pid {os.getpid()} on {socket.gethostname()}"
        return self._take(
            "SELECT pg_try_advisory_lock(?::int, ?::int)",
            [DAEMON_LOCK_CLASS, self._daemon_id(scope)],
            name,
        )

    def describe_daemon(self, scope: str) -> str:
        db = connect(self.url)
        try:
            row = db.execute(
                """SELECT a.application_name FROM pg_locks l
                   JOIN pg_stat_activity a ON a.pid = l.pid
                   WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                     AND l.database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database())
                     AND l.classid::bigint = ? AND l.objid::bigint = ?""",
                [DAEMON_LOCK_CLASS, self._daemon_id(scope) & 0xFFFFFFFF],
            ).fetchone()
        finally:
            db.close()
        return str(row[0]).removeprefix("followup daemon ") if row else "?"

    @staticmethod
    def _daemon_id(scope: str) -> int:
        return advisory_key("daemon", socket.gethostname(), scope) >> 32  # a signed int4

    def _take(self, sql: str, params: list[int], name: str) -> PgLock | None:
        db = connect(self.url, application_name=name[:63])
        try:
            held = bool(db.execute(sql, params).fetchone()[0])
        except BaseException:
            db.close()
            raise
        if not held:
            db.close()
            return None
        return PgLock(db)
