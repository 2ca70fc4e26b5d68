"""The PostgreSQL store: a psycopg 3 connection behind the part of sqlite-utils' Database that
crawler.store, crawler.neardup and crawler.rows use, so that one set of named-column
statements serves both backends.

Statements are written once, for SQLite (`?` and `:name` parameters); `translate` rewrites
them for psycopg. SQLite's `BEGIN IMMEDIATE` (the store's one write lock) becomes a
transaction that first takes a transaction-scoped advisory lock: the store-or-duplicate
decision stays atomic across writers on different machines, and the lock goes with the
transaction (commit, rollback, or the session of a node that died).

A session the server ends (a restart, a failover, an administrator) is opened again only where
its owner asks (`PgDatabase.reconnects`: the daemon's own session): a statement that found the
session gone is run once more on a new one when no transaction was open — never the rest of a
transaction, which is reported failed, the next statement then opening the new session.
"""

from __future__ import annotations

import itertools
import logging
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

URL_SCHEMES = ("postgresql://", "postgres://")
# pg_advisory_xact_lock keys (64-bit): "followup" in ASCII, and the next one for migrations.
STORE_LOCK = 0x666F6C6C6F777570
MIGRATION_LOCK = STORE_LOCK + 1
NOTIFY_LOCK = STORE_LOCK + 2  # one notification sender at a time (crawler.locks)
# The tables whose rows have a generated `id`: an INSERT into them returns it (lastrowid).
ID_TABLES = frozenset(
    {"articles", "duplicates", "fingerprints", "crawl_runs", "article_versions", "notifications"}
)
CONNECT_TIMEOUT_S = 30
# A session opened again after the old one was lost: a server that does not answer this soon is
# down for now (the daemon's next operation tries again), and the daemon's loop waits no longer.
RECONNECT_TIMEOUT_S = 5
# What a psycopg OperationalError says when the session itself is gone rather than the statement
# failed: SQLSTATE class 08 (connection exception), 57P01 admin_shutdown (pg_ctl stop -m fast,
# pg_terminate_backend), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting, stopping).
SESSION_LOST_CLASS = "08"
SESSION_LOST_STATES = frozenset({"57P01", "57P02", "57P03"})
CLOSED = "the connection is closed"  # psycopg's words for a session found gone earlier
# Rows a reader's server-side cursor fetches at a time: memory stays bounded however many come.
FETCH_ROWS = 500
READ_RE = re.compile(r"\s*(SELECT|WITH|VALUES|TABLE)\b", re.IGNORECASE)
_cursor_names = itertools.count(1)
T = TypeVar("T")
logger = logging.getLogger(__name__)


class PostgresError(sqlite3.DatabaseError):
    """A PostgreSQL failure, raised as the DB-API DatabaseError every store caller handles."""


def is_session_lost(exc: BaseException, *, closed: bool) -> bool:
    """Whether a psycopg error means the session is gone (the server restarting or shut down, the
    network), so that a new one may run the statement, rather than the statement failing (a
    query error, a statement timeout, a lock not available): those are never retried."""
    import psycopg

    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate or ""
    return closed or state.startswith(SESSION_LOST_CLASS) or state in SESSION_LOST_STATES


def is_postgres_url(value: object) -> bool:
    """True for a postgresql:// (or postgres://) store URL."""
    return isinstance(value, str) and value.startswith(URL_SCHEMES)


def mask_url(url: str) -> str:
    """The URL with its password (if any) replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


TOKEN = re.compile(
    r"""(?P<quoted>'(?:[^']|'')*'|"(?:[^"]|"")*")|(?P<cast>::)|(?P<named>:[A-Za-z_]\w*)"""
    r"""|(?P<positional>\?)|(?P<percent>%)"""
)
INSERT_TARGET = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)


@lru_cache(maxsize=512)
def translate(sql: str) -> tuple[str, bool]:
    """A SQLite statement of the store as psycopg runs it: `?` → %s, `:name` → %(name)s, a
    literal % doubled, and `RETURNING id` after an INSERT into a table with generated ids
    (then True: the cursor's lastrowid is that id)."""

    def replace(match: re.Match[str]) -> str:
        if match["named"]:
            return f"%({match['named'][1:]})s"
        if match["positional"]:
            return "%s"
        if match["percent"]:
            return "%%"
        return match[0].replace("%", "%%")  # psycopg reads % inside literals too

    translated = TOKEN.sub(replace, sql)
    target = INSERT_TARGET.match(translated)
    if target and target[1].lower() in ID_TABLES and "RETURNING" not in translated.upper():
        return f"{translated.rstrip().rstrip(';')} RETURNING id", True
    return translated, False


class PgCursor:
    """A psycopg cursor as sqlite3's looks to the store: description, rows, rowcount,
    lastrowid (the id an INSERT returned)."""

    def __init__(self, cursor: Any, *, returning_id: bool = False) -> None:
        self.cursor = cursor
        self.rowcount = cursor.rowcount
        self.lastrowid: int | None = None
        if returning_id:
            row = cursor.fetchone()
            self.lastrowid = int(row[0]) if row else None

    @property
    def description(self) -> Any:
        return self.cursor.description

    def fetchone(self) -> Any:
        return self.cursor.fetchone() if self.cursor.description else None

    def fetchmany(self, size: int) -> list[Any]:
        return list(self.cursor.fetchmany(size)) if self.cursor.description else []

    def fetchall(self) -> list[Any]:
        return list(self.cursor.fetchall()) if self.cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.cursor) if self.cursor.description else iter(())


class PgDatabase:
    """One PostgreSQL session, in autocommit like sqlite-utils' Database: a statement outside
    a transaction commits at once; `BEGIN IMMEDIATE`, `atomic()` and `commit()` make one."""

    def __init__(
        self,
        conn: Any,
        url: str,
        *,
        read_only: bool = False,
        reopen: Callable[[], Any] | None = None,
    ) -> None:
        self._conn = conn
        self.url = url
        # A reader's session: its transactions are one snapshot (REPEATABLE READ), and reads
        # inside one stream from a server-side cursor instead of arriving whole.
        self.read_only = read_only
        self._streams: list[Any] = []  # server-side cursors, closed when their transaction ends
        self._reopen = reopen  # a new connection like this one (connect's arguments)
        # Open the session again when the server ended it (the daemon's own session). Off for a
        # crawl: its source's lock lived on the lost session, so it must fail, not go on.
        self.reconnects = False
        # Whether no transaction was open when the session was last seen alive: a statement
        # finding it gone then lost nothing and may run on a new session.
        self._was_idle = True

    @property
    def connection(self) -> Any:
        """The psycopg connection itself (for what only PostgreSQL does: `followup query`)."""
        return self._conn

    @property
    def conn(self) -> PgDatabase:
        """Itself: the store calls `db.conn.executemany` as it would on sqlite3."""
        return self

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (none is on a closed session: it died with it)."""
        from psycopg.pq import TransactionStatus

        if self._conn.closed:
            return False
        return bool(self._conn.info.transaction_status != TransactionStatus.IDLE)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        """Run one statement; `BEGIN IMMEDIATE` opens a transaction under the store lock."""
        if sql.strip().upper() == "BEGIN IMMEDIATE":
            self._run("BEGIN")
            return self._run("SELECT pg_advisory_xact_lock(%s)", [STORE_LOCK])
        statement, returning_id = translate(sql)
        return self._run(statement, params, returning_id=returning_id)

    def execute_raw(self, statement: str) -> None:
        """A statement written for PostgreSQL (schema: no parameters, nothing translated)."""
        self._run(statement, None, parsed=False)

    def _run(
        self,
        statement: str,
        params: Sequence[Any] | Mapping[str, Any] | None = None,
        *,
        returning_id: bool = False,
        parsed: bool = True,
    ) -> PgCursor:
        if parsed and params is None:
            params = ()  # so that psycopg reads the statement's %% as %
        return self._retried(lambda: self._attempt(statement, params, returning_id))

    def _attempt(
        self,
        statement: str,
        params: Sequence[Any] | Mapping[str, Any] | None,
        returning_id: bool,
    ) -> PgCursor:
        if self.read_only and self.in_transaction and READ_RE.match(statement):
            streamed = self._conn.cursor(name=f"followup_{next(_cursor_names)}")
            streamed.itersize = FETCH_ROWS
            self._streams.append(streamed)
            return PgCursor(streamed.execute(statement, params))
        cursor = self._conn.execute(statement, params)
        return PgCursor(cursor, returning_id=returning_id)

    def _retried(self, attempt: Callable[[], T], *, once_more: bool = True) -> T:
        """What attempt returns, psycopg's errors as PostgresError. On a session that reconnects:
        a session already known gone (and no transaction on it) is replaced first, nothing having
        been sent; a statement that finds it gone with no transaction open runs once more on a
        new one (once_more: single statements, which PostgreSQL runs whole or not at all)."""
        import psycopg

        if self.reconnects and self._conn.closed and self._was_idle:
            self._reconnect(CLOSED)
        idle = not self._conn.closed and not self.in_transaction
        try:
            return self._noted(attempt)
        except psycopg.Error as exc:
            lost = is_session_lost(exc, closed=self._conn.closed)
            if not (lost and idle and once_more and self.reconnects):
                raise PostgresError(_one_line(exc)) from exc
            reason = _one_line(exc)
        self._reconnect(reason)
        try:
            return self._noted(attempt)
        except psycopg.Error as exc:
            raise PostgresError(_one_line(exc)) from exc

    def _noted(self, attempt: Callable[[], T]) -> T:
        """attempt(), noting whether the session was idle after it: a transaction that died with
        the session was reported by the statement that found it dead, and is over."""
        try:
            return attempt()
        finally:
            self._was_idle = self._conn.closed or not self.in_transaction

    def _reconnect(self, reason: str) -> None:
        assert self._reopen is not None
        self._close_streams()
        self._conn.close()
        self._conn = self._reopen()
        logger.info("%s: its session was lost (%s); reconnected", mask_url(self.url), reason)

    def executemany(self, sql: str, rows: Sequence[Any]) -> None:
        def attempt() -> None:
            with self._conn.cursor() as cursor:
                cursor.executemany(translate(sql)[0], rows)

        # Not run again once begun: in autocommit, the rows before a loss are stored already.
        self._retried(attempt, once_more=False)

    def query(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return (dict(zip(names, row, strict=True)) for row in cursor)

    @contextmanager
    def atomic(self) -> Iterator[PgDatabase]:
        """A transaction (a savepoint inside one already open)."""
        if self.in_transaction:
            self._run("SAVEPOINT followup_atomic")
            try:
                yield self
            except BaseException:
                self._run("ROLLBACK TO SAVEPOINT followup_atomic")
                raise
            self._run("RELEASE SAVEPOINT followup_atomic")
            return
        self._run("BEGIN ISOLATION LEVEL REPEATABLE READ" if self.read_only else "BEGIN")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def commit(self) -> None:
        self._close_streams()
        if self._conn.closed and not self._was_idle:
            # Its transaction died with the session: never reported as committed.
            self._was_idle = True
            raise PostgresError(
                f"{mask_url(self.url)}: the session ended before COMMIT; nothing of the "
                "transaction was stored"
            )
        if self.in_transaction:
            self._run("COMMIT")

    def rollback(self) -> None:
        self._close_streams()
        self._was_idle = True  # a transaction on a closed session is over already
        if self.in_transaction:
            self._run("ROLLBACK")

    def close(self) -> None:
        self._close_streams()
        self._conn.close()

    def _close_streams(self) -> None:
        streams, self._streams = self._streams, []
        for cursor in streams:
            cursor.close()

    def table_names(self) -> list[str]:
        return [
            row[0]
            for row in self._run(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "ORDER BY tablename"
            )
        ]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def connect(
    url: str,
    *,
    read_only: bool = False,
    statement_timeout_s: float = 0,
    application_name: str = "followup",
) -> PgDatabase:
    """A session of the database at `url` (autocommit; read-only when asked, every
    transaction then refused a write by the server)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise PostgresError(
            f"{mask_url(url)} needs psycopg, which is not installed: "
            "pip install 'followup-crawler[postgres]'"
        ) from None

    options = []
    if read_only:
        options.append("-c default_transaction_read_only=on")
    if statement_timeout_s:
        options.append(f"-c statement_timeout={int(statement_timeout_s * 1000)}")

    def open_session(timeout: int) -> Any:
        import psycopg

        try:
            return psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=timeout,
                options=" ".join(options) or None,
                application_name=application_name,
            )
        except psycopg.Error as exc:
            raise PostgresError(f"cannot connect to {mask_url(url)}: {_one_line(exc)}") from exc

    return PgDatabase(
        open_session(CONNECT_TIMEOUT_S),
        url,
        read_only=read_only,
        reopen=lambda: open_session(RECONNECT_TIMEOUT_S),
    )
