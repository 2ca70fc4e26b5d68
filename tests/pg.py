"""A fresh PostgreSQL database per test, on the session's real server (tests/services.py),
and reads of it as another program makes them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from tests.services import PostgresServer, postgres  # noqa: F401 (a fixture)

psycopg = pytest.importorskip("psycopg", reason="psycopg is in the [postgres] extra")

_numbers = itertools.count(1)


def create_database(server: PostgresServer, *, encoding: str = "UTF8") -> str:
    """A new empty database on the server; its URL."""
    name = f"followup_test_{next(_numbers)}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        if encoding == "UTF8":
            conn.execute(f"CREATE DATABASE {name}")
        else:
            conn.execute(
                f"CREATE DATABASE {name} ENCODING '{encoding}' LC_CTYPE 'C' LC_COLLATE 'C' "
                "TEMPLATE template0"
            )
    return server.url(name)


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:  # noqa: F811
    """The URL of a new empty UTF-8 database."""
    yield create_database(postgres)


def pg_rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows read with a connection of their own (none when the table is not there yet)."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            return [tuple(row) for row in conn.execute(sql, params or None).fetchall()]
        except psycopg.errors.UndefinedTable:
            return []
