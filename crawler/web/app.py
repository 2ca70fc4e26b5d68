"""The Datasette instance `followup serve` runs: the store read-only, our metadata and plugin.

The store is opened as a *mutable* Datasette database, whose connections are `mode=ro`: nothing
is written, yet every page sees what the daemon committed (WAL). Datasette's `-i` (immutable)
would be wrong here: SQLite then assumes the file never changes and may serve stale pages or
corrupt reads while the daemon writes.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from importlib.resources import files
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from datasette.app import Datasette
from datasette.database import Database as DatasetteDatabase
from datasette.database import QueryInterrupted
from datasette.plugins import pm

from crawler.schema import MIGRATIONS
from crawler.store import StoreError, open_readonly
from crawler.web import plugin

DATABASE = plugin.DATABASE
# No facet suggestions (each is a query over the whole table); our facets are in the metadata.
# Long article texts are cut on HTML pages; the JSON has them whole.
# Datasette cuts off any query after 1 s by default; the articles table's search box needs about
# that for a term in a fifth of a million articles (the search query needs 15 ms), so 3 s.
SETTINGS: dict[str, Any] = {
    "sql_time_limit_ms": 3000,
    "suggest_facets": False,
    "truncate_cells_html": 300,
    "default_page_size": 50,
}
# uvicorn's default backlog.
SOCKET_BACKLOG = 2048


class ServeError(RuntimeError):
    """A database `followup serve` cannot show: missing, not SQLite, or not migrated."""


class StoreDatabase(DatasetteDatabase):
    """The store as Datasette sees it, except that hidden tables are not counted.

    Datasette counts every table for the database page, each within 10 ms, a limit SQLite cannot
    enforce while it reads the full-text index's large blobs: `articles_search_data` alone takes
    1 s at 1M articles. Nobody reads the counts of hidden tables.
    """

    async def table_counts(self, limit: int = 10) -> dict[str, int | None]:
        hidden = set(await self.hidden_table_names())
        counts: dict[str, int | None] = {}
        for table in await self.table_names():
            counts[table] = None if table in hidden else await self._count(table, limit)
        return counts

    async def _count(self, table: str, limit: int) -> int | None:
        try:
            result = await self.execute(f"select count(*) from [{table}]", custom_time_limit=limit)
        except (QueryInterrupted, sqlite3.DatabaseError):  # as Datasette's own count does
            return None
        count: int = result.rows[0][0]
        return count


def load_metadata() -> dict[str, Any]:
    """The Datasette metadata shipped in the package (crawler/web/metadata.yml)."""
    text = files("crawler.web").joinpath("metadata.yml").read_text(encoding="utf-8")
    metadata: dict[str, Any] = yaml.safe_load(text)
    return metadata


def check_store(path: Path) -> None:
    """Raise ServeError unless path is a followup database with every migration applied."""
    try:
        db = open_readonly(path)
    except StoreError as exc:
        raise ServeError(str(exc)) from None
    try:
        pending = [m.name for m in MIGRATIONS.pending(db)]
    except sqlite3.DatabaseError as exc:
        raise ServeError(f"cannot read {path} as a followup database: {exc}") from None
    finally:
        db.close()
    if pending:
        raise ServeError(
            f"{path} is not up to date with this followup (missing {', '.join(pending)}): "
            f"run `followup status --db {path}` (or any crawl) once to migrate it, then serve"
        )


def build_datasette(path: Path) -> Datasette:
    """A Datasette showing one followup database, read-only, as /followup."""
    check_store(path)
    if not pm.is_registered(plugin):
        pm.register(plugin, name="followup")
    datasette = Datasette(metadata=load_metadata(), settings=SETTINGS)
    database = StoreDatabase(datasette, path=str(path.resolve()), is_mutable=True)
    datasette.add_database(database, name=DATABASE)
    datasette.remove_database("_memory")  # added when no file is given; nothing to show there
    return datasette


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (port 0: a free port the system picks), or ServeError.

    Bound here rather than by uvicorn, so that the port it got is known before serving starts
    and a port already taken is one clear line."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind((host, port))
        sock.listen(SOCKET_BACKLOG)
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port "
            "(--port 0 takes any free one) or --host"
        ) from None
    return sock


def served_url(sock: socket.socket) -> str:
    """The http:// address a listening socket serves."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def run_datasette(datasette: Datasette, sock: socket.socket) -> None:
    """Serve on the listening socket until interrupted (uvicorn, one worker), as `datasette
    serve` does."""
    asyncio.run(datasette.invoke_startup())
    config = uvicorn.Config(datasette.app(), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
