"""`followup query` on PostgreSQL: the user's one statement in a read-only transaction.

The session is opened with `default_transaction_read_only=on` and a `statement_timeout`, so
the server itself refuses every write; a role with SELECT rights only (README) makes the
refusal hold for anything a statement could call. The statement goes over the extended
protocol (one statement, never `…; COMMIT; INSERT …`), and a SELECT streams from a
server-side cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from crawler.postgres import READ_RE, PostgresError

FETCH_ROWS = 500
WRITE_REFUSED = "followup query only reads: {what} is refused and nothing was changed; use SELECT"


class PostgresQueryError(ValueError):
    """A statement PostgreSQL refused (it would write) or could not run."""


class PostgresQueryStopped(RuntimeError):
    """A statement ended by its time limit or by Ctrl-C."""


@contextmanager
def open_postgres_query(
    url: str, sql: str, *, timeout: float
) -> Iterator[tuple[list[str], Iterator[tuple[Any, ...]]]]:
    """Column names and rows of one statement run read-only on the database at url."""
    from crawler.postgres_schema import open_reader

    try:
        db = open_reader(url, statement_timeout_s=timeout)
    except PostgresError as exc:
        raise PostgresQueryError(str(exc)) from None
    conn = db.connection
    try:
        with conn.transaction():
            streamed = READ_RE.match(sql) is not None
            cursor = conn.cursor(name="followup_query") if streamed else conn.cursor()
            with cursor:
                _run(cursor, sql, timeout)
                names = [column.name for column in cursor.description or []]
                yield names, _rows(cursor, timeout)
    finally:
        db.close()


def _run(cursor: Any, sql: str, timeout: float) -> None:
    import psycopg

    try:
        # Sent as one prepared statement (extended protocol: never `…; COMMIT; …`), its %
        # read literally; a server-side cursor's DECLARE is one statement already.
        if isinstance(cursor, psycopg.ServerCursor):
            cursor.execute(sql.replace("%", "%%"), ())
        else:
            cursor.execute(sql.replace("%", "%%"), (), prepare=True)
    except Exception as exc:
        raise _failure(exc, sql, timeout) from None
    except KeyboardInterrupt:
        raise PostgresQueryStopped("stopped by Ctrl-C; nothing was changed") from None


def _rows(cursor: Any, timeout: float) -> Iterator[tuple[Any, ...]]:
    if cursor.description is None:
        return
    try:
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield from (tuple(row) for row in rows)
    except Exception as exc:
        raise _failure(exc, "", timeout) from None
    except KeyboardInterrupt:
        raise PostgresQueryStopped("stopped by Ctrl-C; nothing was changed") from None


def _failure(exc: Exception, sql: str, timeout: float) -> Exception:
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return exc
    message = " ".join(str(exc).split())
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return PostgresQueryStopped(
            f"stopped after {timeout:g} s (--timeout): narrow the query (a WHERE, a LIMIT) "
            "or give it longer with --timeout"
        )
    if (
        isinstance(
            exc, (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)
        )
        or "data-modifying" in message
    ):
        what = (sql.split() or ["writing"])[0].upper()
        return PostgresQueryError(WRITE_REFUSED.format(what=what))
    if isinstance(exc, psycopg.OperationalError):
        return PostgresError(message)  # the server or the connection, not the statement
    return PostgresQueryError(f"PostgreSQL could not run it: {message}")
