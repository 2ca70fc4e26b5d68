"""`followup query`: a user's SQL run on a connection that cannot change anything.

Three locks, each enough for the database file itself: the file is opened read-only
(`mode=ro`), the connection is `query_only`, and an authorizer refuses every action but
reading. The authorizer is what names the refused action in the message, and what stops
ATTACH and VACUUM INTO, which a read-only connection would otherwise let create other files.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import signal
import sqlite3
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from crawler.export import safe_cell
from crawler.postgres import is_postgres_url
from crawler.store import open_readonly
from crawler.tables import CELL_WIDTH, clip, column_widths, format_row, format_table

ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
# PRAGMAs that only report; a value given to any other PRAGMA would set it.
READ_PRAGMAS = frozenset(
    {
        "application_id",
        "collation_list",
        "compile_options",
        "data_version",  # FTS5 reads it to see whether its cache is still fresh
        "database_list",
        "encoding",
        "foreign_key_list",
        "freelist_count",
        "function_list",
        "index_info",
        "index_list",
        "index_xinfo",
        "module_list",
        "page_count",
        "page_size",
        "pragma_list",
        "schema_version",
        "table_info",
        "table_list",
        "table_xinfo",
        "user_version",
    }
)
# The report PRAGMAs whose argument names a table or index rather than setting a value.
NAMED_PRAGMAS = frozenset(
    {"foreign_key_list", "index_info", "index_list", "index_xinfo", "table_info", "table_list"}
)
ACTION_NAMES = {
    getattr(sqlite3, name): name.removeprefix("SQLITE_").replace("_", " ")
    for name in (
        "SQLITE_INSERT",
        "SQLITE_UPDATE",
        "SQLITE_DELETE",
        "SQLITE_CREATE_TABLE",
        "SQLITE_CREATE_INDEX",
        "SQLITE_CREATE_VIEW",
        "SQLITE_CREATE_TRIGGER",
        "SQLITE_CREATE_TEMP_TABLE",
        "SQLITE_CREATE_TEMP_INDEX",
        "SQLITE_CREATE_TEMP_VIEW",
        "SQLITE_CREATE_TEMP_TRIGGER",
        "SQLITE_CREATE_VTABLE",
        "SQLITE_DROP_TABLE",
        "SQLITE_DROP_INDEX",
        "SQLITE_DROP_VIEW",
        "SQLITE_DROP_TRIGGER",
        "SQLITE_DROP_TEMP_TABLE",
        "SQLITE_DROP_TEMP_INDEX",
        "SQLITE_DROP_TEMP_VIEW",
        "SQLITE_DROP_TEMP_TRIGGER",
        "SQLITE_DROP_VTABLE",
        "SQLITE_ALTER_TABLE",
        "SQLITE_ATTACH",
        "SQLITE_DETACH",
        "SQLITE_REINDEX",
        "SQLITE_ANALYZE",
        "SQLITE_TRANSACTION",
        "SQLITE_SAVEPOINT",
    )
}
SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_temp_master", "sqlite_schema"})
TABLE_SAMPLE = 200  # rows that size a table's columns; later rows are cut to fit
FETCH_ROWS = 500  # rows read from SQLite at a time: memory stays bounded however many come
PROGRESS_STEPS = 10_000  # SQLite VM steps between checks of the time limit and Ctrl-C
DEFAULT_TIMEOUT = 60.0
FORMATS = ("table", "csv", "json")


VACUUM_RE = re.compile(r"\s*VACUUM\b", re.IGNORECASE)
# SQLite's messages for a damaged file (as opposed to a statement it cannot run).
DAMAGE_RE = re.compile(r"malformed|not a database|disk I/O error")


class QueryError(ValueError):
    """SQL that was refused (it would write) or that SQLite could not run."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Column names of one query and its rows, read from the cursor as they are iterated."""

    columns: list[str]
    rows: Iterator[tuple[Any, ...]]


class QueryStopped(RuntimeError):
    """A query ended by its time limit or by Ctrl-C."""


class _Stop:
    """Tells SQLite's progress handler when to abandon the statement: past the deadline or
    after Ctrl-C (SIGINT only sets a flag: Python cannot raise inside SQLite's C loop)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.interrupted = False

    def __call__(self) -> int:
        return int(self.interrupted or time.monotonic() > self.deadline)

    def on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.interrupted = True

    def error(self) -> QueryStopped:
        if self.interrupted:
            return QueryStopped("stopped by Ctrl-C; nothing was changed")
        return QueryStopped(
            f"stopped after {self.timeout:g} s (--timeout): narrow the query (a WHERE, a LIMIT) "
            "or give it longer with --timeout"
        )


@contextmanager
def open_query(path: str | Path, sql: str, *, timeout: float) -> Iterator[QueryResult]:
    """Run one SQL statement on a read-only connection to the database at path, its rows
    streamed while the block runs, abandoned after timeout seconds or on Ctrl-C."""
    if not sql.strip():
        raise QueryError('no SQL given; e.g. followup query "SELECT count(*) FROM articles"')
    if is_postgres_url(path):
        with _postgres_query(str(path), sql, timeout=timeout) as result:
            yield result
        return
    conn = open_readonly(path).conn
    refused: list[str] = []
    conn.set_authorizer(lambda *args: _authorize(refused, *args))
    stop = _Stop(timeout)
    conn.set_progress_handler(stop, PROGRESS_STEPS)
    try:
        with _sigint_to(stop.on_sigint):
            try:
                cursor = conn.execute(sql)
            except sqlite3.Error as exc:
                raise _failure(exc, refused, stop, sql) from None
            columns = _unique([d[0] for d in cursor.description or []])
            yield QueryResult(columns, _rows(cursor, refused, stop, sql))
    finally:
        conn.close()


@contextmanager
def _postgres_query(url: str, sql: str, *, timeout: float) -> Iterator[QueryResult]:
    """The same on PostgreSQL (crawler.postgres_query), its errors as this module's."""
    from crawler.postgres_query import (
        PostgresQueryError,
        PostgresQueryStopped,
        open_postgres_query,
    )

    try:
        with open_postgres_query(url, sql, timeout=timeout) as (columns, rows):
            yield QueryResult(_unique(columns), rows)
    except PostgresQueryError as exc:
        raise QueryError(str(exc)) from None
    except PostgresQueryStopped as exc:
        raise QueryStopped(str(exc)) from None


def _rows(
    cursor: sqlite3.Cursor, refused: list[str], stop: _Stop, sql: str
) -> Iterator[tuple[Any, ...]]:
    try:
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield from rows
    except sqlite3.Error as exc:
        raise _failure(exc, refused, stop, sql) from None


@contextmanager
def _sigint_to(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Ctrl-C calls handler while the block runs (only the main thread can have handlers)."""
    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: Ctrl-C stays as it was
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _failure(exc: sqlite3.Error, refused: list[str], stop: _Stop, sql: str) -> Exception:
    if isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted":
        return stop.error()
    if isinstance(exc, sqlite3.ProgrammingError):
        return QueryError(f"{exc} (followup query runs one statement)")
    if DAMAGE_RE.search(str(exc)):
        return exc  # the file, not the statement: the caller says what to do about it
    if VACUUM_RE.match(sql):  # VACUUM INTO reaches the authorizer as an ATTACH
        refused[:0] = ["VACUUM"]
    return _query_error(exc, refused)


def _authorize(
    refused: list[str], action: int, arg1: str | None, arg2: str | None, *_: str | None
) -> int:
    if _reads_only(action, arg1, arg2):
        return sqlite3.SQLITE_OK
    refused.append(_describe(action, arg1))
    return sqlite3.SQLITE_DENY


def _describe(action: int, arg1: str | None) -> str:
    if action == sqlite3.SQLITE_PRAGMA:
        return f"PRAGMA {arg1}"
    if arg1 in SCHEMA_TABLES:  # CREATE and DROP are refused at their first write to the schema
        return "changing the schema (CREATE, DROP, ALTER…)"
    return ACTION_NAMES.get(action, f"action {action}")


def _reads_only(action: int, arg1: str | None, arg2: str | None) -> bool:
    if action == sqlite3.SQLITE_PRAGMA:
        return arg1 in READ_PRAGMAS and (arg2 is None or arg1 in NAMED_PRAGMAS)
    # Table-valued PRAGMAs (pragma_table_info(…)) report an UPDATE of sqlite_master while
    # loading the schema; a real write to it is stopped by the read-only file.
    return action in ALLOWED_ACTIONS or (
        action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master"
    )


def _query_error(exc: sqlite3.Error, refused: list[str]) -> QueryError:
    if refused or "readonly" in str(exc):
        what = refused[0] if refused else "writing"
        return QueryError(
            f"followup query only reads: {what} is refused and nothing was changed; "
            "use SELECT (and read-only PRAGMAs such as table_info)"
        )
    return QueryError(f"SQLite could not run it: {exc}")


def _unique(names: list[str]) -> list[str]:
    """Column names, a repeated one suffixed _2, _3… (JSON objects need distinct keys)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def format_result(result: QueryResult, fmt: str) -> Iterator[str]:
    """The result, piece by piece as its rows come: an aligned table, CSV (spreadsheet-safe)
    or a JSON array of objects."""
    if fmt == "csv":
        return _csv_lines(result)
    if fmt == "json":
        return _json_pieces(result)
    return _table_lines(result)


def _csv_lines(result: QueryResult) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([safe_cell(_text(v)) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _json_pieces(result: QueryResult) -> Iterator[str]:
    """The same text as json.dumps(records, indent=2), one record at a time."""
    opening = "["
    for row in result.rows:
        record = dict(zip(result.columns, map(_jsonable, row), strict=True))
        yield (
            opening + "\n" + textwrap.indent(json.dumps(record, ensure_ascii=False, indent=2), "  ")
        )
        opening = ","
    yield "[]\n" if opening == "[" else "\n]\n"


def _table_lines(result: QueryResult) -> Iterator[str]:
    """A table sized by its first TABLE_SAMPLE rows; later rows are cut to those widths."""
    sample = [[_text(v) for v in row] for row in itertools.islice(result.rows, TABLE_SAMPLE)]
    yield format_table(result.columns, sample, rule=True, clip_width=CELL_WIDTH) + "\n"
    widths = column_widths([[clip(c) for c in row] for row in [list(result.columns), *sample]])
    for row in result.rows:
        cells = [clip(_text(v), w) for v, w in zip(row, widths, strict=True)]
        yield format_row(cells, widths) + "\n"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return f"x'{value.hex()}'"
    return str(value)


def _jsonable(value: Any) -> Any:
    return _text(value) if isinstance(value, bytes) else value
