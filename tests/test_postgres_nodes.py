"""Crawl nodes sharing a PostgreSQL store: two Scrapyd nodes crawling, at the same moment,
sources that carry the same story store it once, and each job's result is read back from
the store's crawl_runs (issue 15's multi-machine setup, on one machine's loopback)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
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
        listed = listed_runs(seeds, nodes, pg_url)
    assert [run.error for run in runs] == [None, None]
    assert all(run.stats and run.stats["reason"] == "finished" for run in runs), runs
    assert stories(lambda sql: pg_rows(pg_url, sql)) == expected
    # `followup nodes --db URL` shows each job's run, read from the PostgreSQL store.
    assert listed == {run.job_id: run.stats["reason"] for run in runs if run.stats}


def listed_runs(seeds: Path, nodes: list[Node], url: str) -> dict[str, str]:
    """Job id → the reason of the run it recorded, as `followup nodes --json` lists them."""
    entries = "".join(f'[[node]]\nid = "{n.id}"\nurl = "{n.url}"\n' for n in nodes)
    (seeds / "nodes.toml").write_text(entries, encoding="utf-8")
    shown = CliRunner().invoke(cli, ["nodes", "--seeds", str(seeds), "--db", url, "--json"])
    assert shown.exit_code == 0, shown.output
    jobs = [job for node in json.loads(shown.stdout) for job in node["jobs"]]
    return {job["id"]: job["run"]["reason"] for job in jobs if job["run"]}


@pytest.fixture(autouse=True)
def _scrapyd_needs_its_extra() -> None:
    pytest.importorskip("scrapyd", reason="scrapyd is in the [nodes] extra")
