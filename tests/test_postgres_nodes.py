"""Crawl nodes sharing a PostgreSQL store: two Scrapyd nodes crawling, at the same moment,
sources that carry the same story store it once, and each job's result is read back from
the store's crawl_runs (issue 15's multi-machine setup, on one machine's loopback)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from crawler.config import Node
from crawler.mirror import Mirror
from crawler.nodes import NodeRun, ScrapydClient, run_on_node
from crawler.store import open_store
from tests.helpers import FAST_SETTINGS, HEALTHY_SOURCES, WAIT_CEILING
from tests.pg import pg_rows, pg_url  # noqa: F401 (a fixture)
from tests.services import postgres, running_scrapyd  # noqa: F401 (a fixture)
from tests.test_postgres_store import crawled_alone, stories

TWO_SOURCES = HEALTHY_SOURCES.split('[[source]]\nid = "listed"')[0]  # news and daily


def crawl_on(node: Node, source: str, seeds: Path, url: str, minute: int) -> NodeRun:
    settings = {**FAST_SETTINGS, "FOLLOWUP_SEEDS": str(seeds), "FOLLOWUP_DB": url}
    return run_on_node(
        ScrapydClient(node),
        source,
        db_path=url,
        settings=settings,
        now=datetime(2026, 11, 29, 9, minute),
        timeout=WAIT_CEILING,
        interval=0.2,
    )


def test_two_nodes_writing_one_postgresql_store_store_a_shared_story_once(
    tmp_path: Path,
    web: Mirror,
    pg_url: str,  # noqa: F811
) -> None:
    seeds, _, expected = crawled_alone(tmp_path, web, TWO_SOURCES)
    open_store(pg_url).close()  # the daemon's store, migrated before any job
    with running_scrapyd() as one, running_scrapyd() as two, ThreadPoolExecutor(2) as pool:
        nodes = [Node("one", one.url), Node("two", two.url)]
        runs = list(
            pool.map(
                lambda n, s, m: crawl_on(n, s, seeds, pg_url, m), nodes, ["news", "daily"], [1, 2]
            )
        )
    assert [run.error for run in runs] == [None, None]
    assert all(run.stats and run.stats["reason"] == "finished" for run in runs), runs
    assert stories(lambda sql: pg_rows(pg_url, sql)) == expected


@pytest.fixture(autouse=True)
def _scrapyd_needs_its_extra() -> None:
    pytest.importorskip("scrapyd", reason="scrapyd is in the [nodes] extra")
