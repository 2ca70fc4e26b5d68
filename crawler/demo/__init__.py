"""`followup demo`: the five sources' recorded copies served locally, crawled with the default topic.

The recorded copies (crawler/demo/sites/, also the per-site test fixtures) are served by
crawler.mirror on 127.0.0.1; the demo's seeds (crawler/demo/seeds/) name the real URLs,
which are pointed at the local copies before the crawl. No internet is needed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from crawler.config import Seeds, load_seeds
from crawler.mirror import Mirror
from crawler.sites import site_for_url
from crawler.store import Store, StoreError

HERE = Path(__file__).parent
SITES_DIR = HERE / "sites"
SEEDS_DIR = HERE / "seeds"
# A table the demo creates, so it only ever replaces a database it made itself.
DEMO_MARK = "_followup_demo"
# Fast settings for a local server: the politeness delays exist for real sites.
DEMO_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_TIMEOUT": 10,
    "FOLLOWUP_RETRY_BACKOFF": 0.1,
    "LOG_LEVEL": "WARNING",
}


class DemoError(RuntimeError):
    """A demo that would overwrite a database it did not create."""


@contextmanager
def serve_demo_sites() -> Iterator[Mirror]:
    """The recorded copies of the five sites, served on 127.0.0.1 while the block runs."""
    with Mirror.from_directory(SITES_DIR) as mirror:
        yield mirror


def localise_seeds(seeds: Seeds, mirror: Mirror) -> Seeds:
    """The demo's seeds with every URL pointed at its local copy; site modules stay as named."""
    sources = tuple(
        replace(
            source,
            feeds=tuple(map(mirror.url_for, source.feeds)),
            lists=tuple(map(mirror.url_for, source.lists)),
        )
        for source in seeds.sources
    )
    topics = tuple(
        replace(topic, seeds=tuple(replace(s, url=mirror.url_for(s.url)) for s in topic.seeds))
        for topic in seeds.topics
    )
    return replace(seeds, sources=sources, topics=topics)


def prepare_database(path: Path) -> None:
    """Start from an empty file, replacing only a database an earlier demo made."""
    if path.exists():
        if DEMO_MARK not in _table_names(path):
            raise DemoError(
                f"{path} exists and was not made by `followup demo`; "
                "remove it or pass --db with another file"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    Store.open(path).close()  # the schema first: followup refuses a file of other tables
    Database(path).table(DEMO_MARK).insert({"note": "made by followup demo; safe to delete"})


def _table_names(path: Path) -> list[str]:
    try:
        return Database(path).table_names()
    except sqlite3.DatabaseError:
        return []  # not SQLite: certainly not the demo's


def run_demo(db_path: Path) -> dict[str, Any]:
    """Serve the recorded sites, crawl them into db_path; returns the crawl summary."""
    from crawler.runner import run_crawl

    try:
        prepare_database(db_path)
    except StoreError as exc:
        raise DemoError(str(exc)) from None
    with serve_demo_sites() as mirror:
        seeds = localise_seeds(load_seeds(SEEDS_DIR), mirror)
        result = run_crawl(seeds, db_path, settings=DEMO_SETTINGS)
        restore_real_urls(Database(db_path), mirror)
    return {"run_id": result.run_id, "sources": result.summary}


def restore_real_urls(db: Database, mirror: Mirror) -> None:
    """Store the real, canonical addresses the local copies stand for, so the demo database
    reads like one made from the real sites (and stays meaningful once the server is gone)."""
    with db.atomic():
        for table in ("articles", "duplicates", "seen"):
            for row in list(db.query(f"SELECT rowid AS row_id, url FROM {table}")):
                real = mirror.real_url(row["url"])
                if real != row["url"]:
                    db.execute(
                        f"UPDATE OR IGNORE {table} SET url = ? WHERE rowid = ?",
                        [site_for_url(real).canonical_url(real), row["row_id"]],
                    )
