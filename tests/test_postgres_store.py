"""The PostgreSQL store (`--db postgresql://…`): the same schema under the same migration
names, the same rows as a SQLite crawl of the same web, one copy of a story however many
writers meet it at once, and a killed crawl re-run storing each story once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from crawler.cli import cli
from crawler.config import Topic
from crawler.ingest import ingest_article
from crawler.mirror import Gate, Mirror
from crawler.model import Article
from crawler.postgres import translate
from crawler.postgres_schema import PG_MIGRATIONS, applied_migrations
from crawler.query import parse_query
from crawler.schema import MIGRATIONS
from crawler.store import Store, StoreError, open_store
from tests.helpers import (
    FAST_SETTINGS,
    HEALTHY_SOURCES,
    WAIT_CEILING,
    crawl,
    reaped,
    setting_args,
    wait_until,
    write_seeds,
)
from tests.neardup.corpus import load_articles
from tests.pg import create_database, pg_rows, pg_url  # noqa: F401 (a fixture)
from tests.services import PostgresServer, postgres  # noqa: F401 (a fixture)

# What a crawl stored, by URL (ids and fetch times differ between two runs), as both read it.
STORED = {
    "articles": """SELECT url, source, title, author, published_at, text, simhash, title_key,
        original_title_key, baseline FROM articles""",
    "topics": """SELECT a.url, t.topic, t.matched FROM article_topics t
        JOIN articles a ON a.id = t.article_id""",
    "duplicates": """SELECT d.url, d.source, d.title, a.url, d.distance, d.method, d.published_at
        FROM duplicates d JOIN articles a ON a.id = d.duplicate_of""",
    "fingerprints": """SELECT a.url, f.value, f.b0, f.b1, f.b2, f.b3, f.sketch
        FROM fingerprints f JOIN articles a ON a.id = f.article_id""",
    "seen": "SELECT url, source, status, attempts, detail FROM seen",
    "validators": "SELECT url, etag, last_modified, content_hash FROM http_validators",
    "robots": "SELECT url, status, body FROM robots_txt",
    "days": "SELECT day, source, articles FROM article_days",
}


def sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        rows = [tuple(row) for row in conn.execute(sql)]
    conn.close()
    return rows


def stored(read: Callable[[str], list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {name: sorted(read(sql), key=repr) for name, sql in STORED.items()}


def stories(read: Callable[[str], list[tuple[Any, ...]]]) -> tuple[int, int, set[str]]:
    """Articles stored, duplicates recorded, and every URL either holds."""
    articles = [url for (url,) in read("SELECT url FROM articles")]
    duplicates = [url for (url,) in read("SELECT url FROM duplicates")]
    return len(articles), len(duplicates), {*articles, *duplicates}


Stories = tuple[int, int, set[str]]


def crawled_alone(tmp_path: Path, web: Mirror, sources: str) -> tuple[Path, Path, Stories]:
    """Seeds of these sources, and what one process crawling them one after another stores
    in SQLite (which must include a repost, or a test of concurrent writers proves nothing)."""
    seeds, alone = write_seeds(tmp_path / "seeds", web, sources), tmp_path / "alone.db"
    crawl(seeds, alone)
    expected = stories(lambda sql: sqlite_rows(alone, sql))
    assert expected[1] >= 1, "the sources must carry a common story, or this proves nothing"
    return seeds, alone, expected


# Statements, written once for SQLite ---------------------------------------------------------


def test_statements_are_translated_for_psycopg() -> None:
    assert translate("SELECT * FROM seen WHERE url = ? AND status = ?") == (
        "SELECT * FROM seen WHERE url = %s AND status = %s",
        False,
    )
    assert translate("INSERT INTO articles (url, title) VALUES (:url, :title)") == (
        "INSERT INTO articles (url, title) VALUES (%(url)s, %(title)s) RETURNING id",
        True,
    )
    # Literals, casts and LIKE patterns are left as they are (a literal % doubled for psycopg).
    assert translate("SELECT 'a?b:c', x::text FROM t WHERE y LIKE '%z' AND w = :w") == (
        "SELECT 'a?b:c', x::text FROM t WHERE y LIKE '%%z' AND w = %(w)s",
        False,
    )
    # Rows without an id (seen, keyed by url) return nothing.
    assert translate("INSERT INTO seen (url) VALUES (?) ON CONFLICT(url) DO NOTHING")[1] is False


def test_every_sqlite_migration_has_a_postgresql_counterpart_in_the_same_order() -> None:
    sqlite_names = [m.name for m in MIGRATIONS.pending(Database(memory=True))]
    missing = [name for name in sqlite_names if name not in PG_MIGRATIONS]
    assert not missing, f"add these to crawler.postgres_schema.PG_MIGRATIONS: {missing}"
    order = [name for name in PG_MIGRATIONS if name in sqlite_names]
    assert order == sqlite_names


# Schema and migrations ----------------------------------------------------------------------


def columns_of_sqlite() -> dict[str, list[str]]:
    db = Store.memory().db
    # SQLite's own search index (m012_fts) and its queue: PostgreSQL searches with pg_trgm.
    sqlite_only = ("_sqlite", "articles_search", "search_queue")
    tables = [t.name for t in db.tables if not t.name.startswith(sqlite_only)]
    return {name: [c.name for c in db[name].columns] for name in tables}


def columns_of_postgres(url: str) -> dict[str, list[str]]:
    rows = pg_rows(
        url,
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name <> '_followup_migrations'
           ORDER BY table_name, ordinal_position""",
    )
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


def test_postgresql_has_the_same_tables_and_columns(pg_url: str) -> None:  # noqa: F811
    open_store(pg_url).close()
    expected = columns_of_sqlite()
    assert expected["crawl_runs"][-1] == "job"  # the latest migration's column is compared too
    assert columns_of_postgres(pg_url) == expected


def test_migrations_are_idempotent_and_safe_to_race_on_postgresql(pg_url: str) -> None:  # noqa: F811
    with ThreadPoolExecutor(3) as pool:  # three processes starting on a new database at once
        stores = list(pool.map(lambda _: open_store(pg_url), range(3)))
    for store in stores:
        store.close()
    again = open_store(pg_url)
    assert applied_migrations(again.db) == list(PG_MIGRATIONS)  # type: ignore[arg-type]
    again.close()
    counts = pg_rows(pg_url, "SELECT name, count(*) FROM _followup_migrations GROUP BY name")
    assert {count for _, count in counts} == {1}


def test_migrations_are_idempotent_on_sqlite(tmp_path: Path) -> None:
    for _ in range(2):
        open_store(tmp_path / "f.db").close()
    names = sqlite_rows(tmp_path / "f.db", "SELECT name FROM _sqlite_migrations")
    assert sorted(names) == sorted((m.name,) for m in MIGRATIONS.pending(Database(memory=True)))


def test_a_non_utf8_database_is_refused_with_the_fix(postgres: PostgresServer) -> None:  # noqa: F811
    url = create_database(postgres, encoding="SQL_ASCII")
    with pytest.raises(StoreError, match=r"its encoding is SQL_ASCII, not UTF8: create it with"):
        open_store(url)
    assert pg_rows(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_a_database_of_another_program_is_left_unchanged(pg_url: str) -> None:  # noqa: F811
    with psycopg_connect(pg_url) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(StoreError, match=r"holds tables of another program \(invoices\)"):
        open_store(pg_url)
    assert columns_of_postgres(pg_url) == {"invoices": ["id"]}


def test_a_crawl_to_a_server_that_is_not_there_exits_2_with_one_line(
    tmp_path: Path, web: Mirror
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES)
    url = "postgresql://followup:secret@127.0.0.1:1/followup"
    result = CliRunner().invoke(cli, ["crawl", "--seeds", str(seeds), "--db", url])
    assert result.exit_code == 2, result.output
    assert "cannot connect to postgresql://followup:***@127.0.0.1:1/followup" in result.output
    assert "secret" not in result.output and "Traceback" not in result.output


def psycopg_connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


# Crawls -------------------------------------------------------------------------------------


def test_a_crawl_stores_on_postgresql_exactly_what_it_stores_on_sqlite(
    tmp_path: Path,
    web: Mirror,
    pg_url: str,  # noqa: F811
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES)
    # One request at a time: two sources list one URL, and which of them meets it first (its
    # `already_seen` figure, the article's source) must not depend on how downloads interleave.
    one_at_a_time = {**FAST_SETTINGS, "CONCURRENT_REQUESTS": 1}
    on_sqlite = crawl(seeds, tmp_path / "f.db", settings=one_at_a_time)
    on_postgres = crawl(seeds, pg_url, settings=one_at_a_time)  # type: ignore[arg-type]
    assert on_postgres == on_sqlite
    expected = stored(lambda sql: sqlite_rows(tmp_path / "f.db", sql))
    assert expected["duplicates"] and expected["fingerprints"], (
        "a crawl with no reposts proves less"
    )
    assert stored(lambda sql: pg_rows(pg_url, sql)) == expected
    # A second crawl finds everything known, on both.
    again_on_postgres = crawl(seeds, pg_url, settings=one_at_a_time)  # type: ignore[arg-type]
    assert again_on_postgres == crawl(seeds, tmp_path / "f.db", settings=one_at_a_time)
    assert stored(lambda sql: pg_rows(pg_url, sql)) == stored(
        lambda sql: sqlite_rows(tmp_path / "f.db", sql)
    )


TOPICS = (Topic("all", "所有", parse_query("的")),)
PUBLISHED = datetime(2026, 11, 16, 3, 0, tzinfo=UTC)


def test_writers_meeting_the_same_stories_at_the_same_moment_store_each_once(
    pg_url: str,  # noqa: F811
) -> None:
    corpus = load_articles()[:24]
    originals = [
        Article(f"https://a.example/{n}", a.title, a.body, "", PUBLISHED)
        for n, a in enumerate(corpus)
    ]
    start = threading.Barrier(2, timeout=WAIT_CEILING)

    def node(prefix: str) -> list[str]:
        store = open_store(pg_url)  # a session of its own, as on another machine
        try:
            start.wait()
            copies = [replace(a, url=a.url.replace("a.example", prefix)) for a in originals]
            return [ingest_article(store, c, source=prefix, topics=TOPICS).status for c in copies]
        finally:
            store.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(node, ["one.example", "two.example"]))
    assert all(status in ("stored", "duplicate") for status in outcomes[0] + outcomes[1])
    # Each story once: one copy stored, the other its duplicate, whichever writer came first.
    for n in range(len(originals)):
        assert sorted([outcomes[0][n], outcomes[1][n]]) == ["duplicate", "stored"], n
    assert pg_rows(pg_url, "SELECT count(*) FROM articles") == [(len(originals),)]
    assert pg_rows(pg_url, "SELECT count(*) FROM duplicates") == [(len(originals),)]


def test_two_crawl_processes_meeting_the_same_story_at_once_store_it_once(
    tmp_path: Path,
    web: Mirror,
    pg_url: str,  # noqa: F811
) -> None:
    seeds, _, expected = crawled_alone(tmp_path, web, HEALTHY_SOURCES)
    commands = [
        [*followup_crawl(seeds, pg_url), "--source", "news", "--source", "listed"],
        [*followup_crawl(seeds, pg_url), "--source", "daily"],
    ]
    open_store(pg_url).close()  # migrated first: the runs race on the stories, not the schema
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    with logs[0].open("w") as one, logs[1].open("w") as two:
        processes = [
            subprocess.Popen(c, stderr=log) for c, log in zip(commands, [one, two], strict=True)
        ]
        with reaped(processes[0]), reaped(processes[1]):  # type: ignore[arg-type]
            codes = [p.wait(timeout=600) for p in processes]
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    assert stories(lambda sql: pg_rows(pg_url, sql)) == expected


def followup_crawl(seeds: Path, db: str) -> list[str]:
    command = str(Path(sys.executable).with_name("followup"))
    return [command, "crawl", "--seeds", str(seeds), "--db", db, *setting_args(FAST_SETTINGS)]


@contextmanager
def crawl_held_mid_run(
    seeds: Path, alone: Path, web: Mirror, url: str, *, stderr: Any = subprocess.DEVNULL
) -> Iterator[tuple[subprocess.Popen[bytes], str, Gate]]:
    """`followup crawl` into url, once it has stored an article and waits on a held page of
    daily (never answered before the block lets it go); reaped and released at the end."""
    daily = "SELECT url FROM articles WHERE source = 'daily' UNION SELECT url FROM duplicates"
    page = sorted(url for (url,) in sqlite_rows(alone, f"{daily} WHERE source = 'daily'"))[0]
    gate = web.hold(web.real_url(page))
    try:
        process = subprocess.Popen(followup_crawl(seeds, url), stderr=stderr)
        with reaped(process):  # type: ignore[arg-type]
            wait_until(
                lambda: gate.arrived.is_set() and pg_rows(url, "SELECT 1 FROM articles"),
                "the crawl to store an article and wait on the held page",
            )
            yield process, page, gate
    finally:
        gate.release()


def test_a_crawl_killed_mid_run_then_run_again_stores_each_story_once(
    tmp_path: Path,
    web: Mirror,
    pg_url: str,  # noqa: F811
) -> None:
    seeds, alone, expected = crawled_alone(tmp_path, web, HEALTHY_SOURCES)
    with crawl_held_mid_run(seeds, alone, web, pg_url) as (process, page, _):
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=WAIT_CEILING)
    assert page not in stories(lambda sql: pg_rows(pg_url, sql))[2]
    crawl(seeds, pg_url)  # type: ignore[arg-type]
    assert stories(lambda sql: pg_rows(pg_url, sql)) == expected


def test_a_server_that_drops_the_crawl_mid_run_ends_it_with_one_line_then_a_rerun_stores_all(
    tmp_path: Path,
    web: Mirror,
    pg_url: str,  # noqa: F811
) -> None:
    seeds, alone, expected = crawled_alone(tmp_path, web, HEALTHY_SOURCES)
    log = tmp_path / "crawl.log"
    with (
        log.open("w") as stderr,
        crawl_held_mid_run(seeds, alone, web, pg_url, stderr=stderr) as (process, _, gate),
    ):
        # The server ends the crawl's session (a restart, a failover, an admin).
        pg_rows(
            pg_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        gate.release()
        code = process.wait(timeout=600)
    errors = [line for line in log.read_text().splitlines() if "ERROR" in line]
    assert code == 1, log.read_text()[-3000:]
    assert len(errors) == 1 and f"{pg_url} failed (" in errors[0], errors
    assert "check the server, then run again" in errors[0] and "Traceback" not in log.read_text()
    crawl(seeds, pg_url)  # type: ignore[arg-type]
    assert stories(lambda sql: pg_rows(pg_url, sql)) == expected


def test_a_postgresql_url_without_psycopg_installed_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as where the extra is not installed
    with pytest.raises(StoreError, match=r"needs psycopg, which is not installed: pip install"):
        open_store("postgresql://followup@127.0.0.1:1/followup")
