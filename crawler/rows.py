"""Rows in and out of SQLite by column name: reads as dicts, writes from dicts.

sqlite-utils' `query` and `insert` wrap every statement in a savepoint and introspect the
table, several statements where one will do; the crawl's per-article reads and writes use
these instead, inside the transactions the store opens.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlite_utils import Database


def select(db: Database, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
    """Rows of a read as dicts, straight from the cursor."""
    cursor = db.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return (dict(zip(names, row, strict=True)) for row in cursor)


def insert_row(db: Database, table: str, row: Mapping[str, Any]) -> int:
    """INSERT one row given as column → value; returns its rowid."""
    columns = ", ".join(row)
    values = ", ".join(f":{column}" for column in row)
    cursor = db.execute(f"INSERT INTO {table} ({columns}) VALUES ({values})", dict(row))
    return int(cursor.lastrowid or 0)


def update_row(db: Database, table: str, row_id: int, row: Mapping[str, Any]) -> None:
    """UPDATE the columns given as column → value of the row with this id."""
    assignments = ", ".join(f"{column} = :{column}" for column in row)
    db.execute(f"UPDATE {table} SET {assignments} WHERE id = :_row_id", {**row, "_row_id": row_id})
