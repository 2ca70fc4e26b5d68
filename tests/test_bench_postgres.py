"""Measurement 11 of the benchmark (the crawl into PostgreSQL vs SQLite) at its smallest: it
runs, both sides store the same figures, and its rows are numbers."""

from __future__ import annotations

from tests.services import PostgresServer, postgres  # noqa: F401 (a fixture)
from tests.test_bench import numbers, run_bench, table_rows

ROWS = (
    "11. Crawl CPU per article, PostgreSQL (crawl + server)",
    "11. Crawl CPU per article, PostgreSQL (crawl process only)",
    "11. Crawl wall time, PostgreSQL (10 articles)",
)


def test_the_postgresql_crawl_measurement_reports_its_rows(
    postgres: PostgresServer,  # noqa: F811 (only to skip, or fail, where PostgreSQL cannot run)
) -> None:
    result = run_bench("--quick", *("--sources", "2", "--articles", "5"), "--only", "11")
    rows = table_rows(result.stdout)
    assert list(rows) == list(ROWS)
    for followup, baseline, _, _ in rows.values():
        assert numbers(followup)[0] > 0 and numbers(baseline)[0] > 0
