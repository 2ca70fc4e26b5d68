"""The readers on a PostgreSQL store: `followup query` read-only (a read-only session, a
statement timeout, a SELECT-only role), `status`, `export` streamed from a server-side
cursor, `search` through pg_trgm; `serve` refuses a PostgreSQL URL in one line.
Each reads a crawl of the tests' web and answers what it answers on SQLite for the same crawl."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.mirror import Mirror
from crawler.store import open_readonly
from tests.conftest import TWO_TOPICS
from tests.helpers import HEALTHY_SOURCES, WEB, crawl, write_seeds
from tests.pg import create_database, pg_rows
from tests.services import PostgresServer, postgres  # noqa: F401 (a fixture)

COUNT = "SELECT source, count(*) AS articles FROM articles GROUP BY source ORDER BY source"


@pytest.fixture(scope="module")
def stores(
    postgres: PostgresServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, str]:
    """(PostgreSQL URL, SQLite path) holding the same crawl of the tests' web, two topics."""
    root = tmp_path_factory.mktemp("pg-readers")
    url, path = create_database(postgres), root / "followup.db"
    with Mirror.from_directory(WEB) as mirror:
        seeds = write_seeds(root / "seeds", mirror, HEALTHY_SOURCES, topics=TWO_TOPICS)
        crawl(seeds, path)
        crawl(seeds, url)  # type: ignore[arg-type]
    return url, str(path)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_query_answers_as_on_sqlite(stores: tuple[str, str]) -> None:
    url = stores[0]
    on_pg, on_sqlite = (run("query", COUNT, "--db", db, "--format", "json") for db in stores)
    assert on_pg.exit_code == 0, on_pg.output
    assert json.loads(on_pg.stdout) == json.loads(on_sqlite.stdout)
    assert json.loads(on_pg.stdout)  # rows, not an empty answer twice
    like = run("query", "SELECT count(*) AS n FROM articles WHERE url LIKE '%/a/%'", "--db", url)
    assert like.exit_code == 0 and like.output.split()[-1] != "0", like.output


ONLY_READS = "followup query only reads: {} is refused and nothing was changed; use SELECT"
ONE_STATEMENT = "cannot insert multiple commands into a prepared statement"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DELETE FROM articles", ONLY_READS.format("DELETE")),
        (
            "INSERT INTO seen (url, source, status, first_seen, last_seen) "
            "VALUES ('u', 's', 'x', 't', 't')",
            ONLY_READS.format("INSERT"),
        ),
        ("CREATE TABLE mine (x int)", ONLY_READS.format("CREATE")),
        (
            "WITH gone AS (DELETE FROM articles RETURNING id) SELECT count(*) FROM gone",
            ONLY_READS.format("WITH"),
        ),
        ("SELECT set_config('default_transaction_read_only', 'off', false)", None),
        ("SET default_transaction_read_only = off; DELETE FROM articles", ONE_STATEMENT),
        ("COMMIT; DELETE FROM articles", ONE_STATEMENT),
        (
            "SET default_transaction_read_only = off; COMMIT; CREATE TABLE mine (x int)",
            ONE_STATEMENT,
        ),
        (
            "SELECT 1; SET default_transaction_read_only = off; COMMIT; CREATE TABLE mine (x int)",
            "could not run it",
        ),
    ],
)
def test_query_refuses_every_write_and_changes_nothing(
    stores: tuple[str, str], sql: str, message: str | None
) -> None:
    url, _ = stores
    before = pg_rows(url, COUNT)
    result = run("query", sql, "--db", url)
    if message is None:  # a setting of this session only, which ends with the query
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and message in result.output, result.output
    assert pg_rows(url, COUNT) == before
    assert pg_rows(url, "SELECT 1 FROM pg_tables WHERE tablename = 'mine'") == []


def test_query_stops_at_its_timeout(stores: tuple[str, str]) -> None:
    result = run("query", "SELECT pg_sleep(600)", "--db", stores[0], "--timeout", "1s")
    assert result.exit_code == 1, result.output
    assert "stopped after 1 s (--timeout)" in result.output


def test_a_database_with_no_followup_store_is_named_with_the_fix(
    postgres: PostgresServer,  # noqa: F811
) -> None:
    url = create_database(postgres)
    for command in (["query", "SELECT 1"], ["status"], ["export"], ["search", "微信"]):
        result = run(*command, "--db", url)
        assert result.exit_code == 2, (command, result.output)
        assert f"no followup database at {url}: run `followup crawl --db URL` first" in (
            result.output
        )
    assert pg_rows(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def records(output: str) -> list[dict[str, Any]]:
    """Exported articles without what differs between two crawls (when they were fetched)."""
    found = []
    for line in output.splitlines():
        record = json.loads(line)
        record.pop("fetched_at")
        for sighting in record["also_covered_by"]:
            sighting.pop("seen_at")
        found.append(record)
    return sorted(found, key=lambda r: r["url"])


def test_export_exports_what_sqlite_exports(stores: tuple[str, str]) -> None:
    for options in ([], ["--topic", "brokers"], ["--source", "news", "--since", "3000d"]):
        on_pg, on_sqlite = (
            run("export", "--db", db, "--format", "ndjson", *options) for db in stores
        )
        assert on_pg.exit_code == 0, on_pg.output
        assert records(on_pg.stdout) == records(on_sqlite.stdout)
    assert records(on_pg.stdout) and any(
        r["also_covered_by"]
        for r in records(run("export", "--db", stores[0], "--format", "ndjson").stdout)
    )


def test_a_readers_select_in_a_transaction_streams_from_a_server_side_cursor(
    stores: tuple[str, str],
) -> None:
    db = open_readonly(stores[0])
    try:
        with db.atomic():
            rows = db.execute("SELECT id FROM articles ORDER BY id")
            cursors = [r[0] for r in db.execute("SELECT name FROM pg_cursors ORDER BY name")]
            assert [name for name in cursors if name.startswith("followup_")] == cursors
            assert len(cursors) == 2 and len(rows.fetchmany(2)) == 2
    finally:
        db.close()


def hit_urls(output: str) -> set[str]:
    return {word for word in output.split() if word.startswith("http")}


@pytest.mark.parametrize("terms", [["微信支付"], ["阿里"], ["阿里", "互通"], ["券商"]])
def test_search_finds_what_sqlite_finds(stores: tuple[str, str], terms: list[str]) -> None:
    on_pg, on_sqlite = (run("search", *terms, "--db", db) for db in stores)
    assert on_pg.exit_code == 0, on_pg.output
    assert hit_urls(on_pg.stdout) == hit_urls(on_sqlite.stdout)
    assert hit_urls(on_pg.stdout), "a search that finds nothing on both proves nothing"


def test_search_uses_the_trigram_indexes(stores: tuple[str, str]) -> None:
    indexes = pg_rows(
        stores[0], "SELECT indexname, indexdef FROM pg_indexes WHERE indexdef LIKE '%gin_trgm_ops%'"
    )
    assert sorted(name for name, _ in indexes) == ["articles_text_trgm", "articles_title_trgm"]


def test_status_reads_a_postgresql_store(stores: tuple[str, str]) -> None:
    on_pg, on_sqlite = (run("status", "--db", db, "--json") for db in stores)
    assert (on_pg.exit_code, on_pg.stdout) == (on_sqlite.exit_code, on_sqlite.stdout)


def test_serve_refuses_a_postgresql_url_in_one_line(stores: tuple[str, str]) -> None:
    message = "followup serve reads a SQLite file only (Datasette reads SQLite)"
    result = run("serve", "--db", stores[0])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and message in result.output, result.output
