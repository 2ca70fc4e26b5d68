"""Measurement 11 of the benchmark (the crawl into PostgreSQL vs SQLite) at its smallest: it
runs, both sides store the same figures, and its rows are numbers."""

from __future__ import annotations

import subprocess
import sys

from tests.services import PostgresServer, postgres  # noqa: F401 (a fixture)
from tests.test_bench import BENCH_CEILING, REPO, numbers, table_rows

ROWS = (
    "11. Crawl CPU per article, PostgreSQL (crawl + server)",
    "11. Crawl CPU per article, PostgreSQL (crawl process only)",
    "11. Crawl wall time, PostgreSQL (10 articles)",
)


def test_the_postgresql_crawl_measurement_reports_its_rows(
    postgres: PostgresServer,  # noqa: F811 (only to skip, or fail, where PostgreSQL cannot run)
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            *("--sources", "2", "--articles", "5"),
            "--only",
            "11",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BENCH_CEILING,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = table_rows(result.stdout)
    assert list(rows) == list(ROWS)
    for followup, baseline, _, _ in rows.values():
        assert numbers(followup)[0] > 0 and numbers(baseline)[0] > 0
