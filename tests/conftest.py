"""Shared fixtures: the local web of recorded pages, seeds pointing at it, crawl settings."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from crawler.demo import restore_real_urls
from crawler.mirror import Mirror
from tests.helpers import HEALTHY_SOURCES, QUERY, WEB, crawl, refused_port, write_seeds
from tests.inprocess import stop_reactor_thread

# The default topic (with its seed article) and a narrower one, so exports have two topics.
TWO_TOPICS = f"""
[[topic]]
id = "interop"
name = "阿里腾讯互联互通"
query = '{QUERY}'
seeds = ["{{https://list.example.net/news/1999.html}}"]

[[topic]]
id = "brokers"
name = "券商观点"
query = "券商"
"""


@pytest.fixture(scope="session", autouse=True)
def _reactor() -> Iterator[None]:
    """Stop the in-process crawls' reactor thread at the end of the session, if one started."""
    yield
    stop_reactor_thread()


@pytest.fixture
def web() -> Iterator[Mirror]:
    """The generic test sites (tests/web) served on 127.0.0.1."""
    with Mirror.from_directory(WEB) as mirror:
        yield mirror


@pytest.fixture
def down_url() -> Iterator[str]:
    """An http:// URL on 127.0.0.1 that refuses connections for the whole test: its port is held,
    never listened on, so no server started meanwhile elsewhere on the machine can answer there."""
    with refused_port() as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database made by a crawl of tests/web (in this process), two topics, with the real
    URLs the local copies stand for (as `followup demo` stores them). Read-only: tests that
    write use `crawled_copy`."""
    root = tmp_path_factory.mktemp("crawled")
    path = root / "followup.db"
    with Mirror.from_directory(WEB) as mirror:
        seeds = write_seeds(root / "seeds", mirror, HEALTHY_SOURCES, topics=TWO_TOPICS)
        crawl(seeds, path)
        with Database(path) as db:
            restore_real_urls(db, mirror)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def crawled_copy(crawled: Path, tmp_path: Path) -> Path:
    """A private copy of the crawled database, free to change."""
    return copy_database(crawled, tmp_path / "copy.db")


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy through SQLite's backup API (WAL content included)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target
