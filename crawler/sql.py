"""`followup query`: a user's SQL run on a connection that cannot change anything.

Three locks, each enough for the database file itself: the file is opened read-only
(`mode=ro`), the connection is `query_only`, and an authorizer refuses every action but
reading. The authorizer is what names the refused action in the message, and what stops
ATTACH and VACUUM INTO, which a read-only connection would otherwise let create other files.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.coverage import open_readonly
from crawler.export import safe_cell

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
CELL_WIDTH = 60  # display columns a table cell is cut to
FORMATS = ("table", "csv", "json")


# SQLite's messages for a damaged file (as opposed to a statement it cannot run).
DAMAGE_RE = re.compile(r"malformed|not a database|disk I/O error")


class QueryError(ValueError):
    """SQL that was refused (it would write) or that SQLite could not run."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Column names and rows of one query."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_query(path: str | Path, sql: str) -> QueryResult:
    """Run one SQL statement on a read-only connection to the database at path."""
    conn = open_readonly(path).conn
    refused: list[str] = []
    conn.set_authorizer(lambda *args: _authorize(refused, *args))
    try:
        cursor = conn.execute(sql)
        rows = cursor.fetchall()  # all of it now: the read transaction ends here
    except sqlite3.ProgrammingError as exc:
        raise QueryError(f"{exc} (followup query runs one statement)") from None
    except sqlite3.DatabaseError as exc:
        if DAMAGE_RE.search(str(exc)):
            raise  # the file, not the statement: the caller says what to do about it
        raise _query_error(exc, refused) from None
    finally:
        conn.close()
    return QueryResult(_unique([d[0] for d in cursor.description or []]), rows)


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


def _query_error(exc: sqlite3.DatabaseError, refused: list[str]) -> QueryError:
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


def format_result(result: QueryResult, fmt: str) -> str:
    """The result as an aligned table, CSV (spreadsheet-safe) or a JSON array of objects."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(result.columns)
        writer.writerows([safe_cell(_text(v)) for v in row] for row in result.rows)
        return buffer.getvalue()
    if fmt == "json":
        records = [
            dict(zip(result.columns, map(_jsonable, row), strict=True)) for row in result.rows
        ]
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    return format_table(result.columns, [[_text(v) for v in row] for row in result.rows])


def format_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An aligned plain-text table; Chinese characters count two columns, long cells are cut."""
    cells = [[clip(c) for c in row] for row in [list(columns), *rows]]
    widths = [max(display_width(row[i]) for row in cells) for i in range(len(columns))]
    lines = [
        "  ".join(
            cell + " " * (w - display_width(cell)) for cell, w in zip(row, widths, strict=True)
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def display_width(text: str) -> int:
    """Terminal columns text takes: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def clip(text: str, width: int = CELL_WIDTH) -> str:
    """text on one line, cut with … to at most width display columns."""
    flat = " ".join(text.split())
    if display_width(flat) <= width:
        return flat
    out, used = [], 1
    for char in flat:
        used += display_width(char)
        if used > width:
            break
        out.append(char)
    return "".join(out) + "…"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return f"x'{value.hex()}'"
    return str(value)


def _jsonable(value: Any) -> Any:
    return _text(value) if isinstance(value, bytes) else value
