"""The daemon polling sources on crawl nodes: a real `followup daemon` process scheduling jobs on
a real Scrapyd (tests/services.py) over the local web, beside a source crawled here.

Held pages (Mirror.hold) stand for slow servers; every wait is on a condition with a generous
ceiling; the daemon and Scrapyd are always reaped, and each test ends with nothing left running
on the node.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import Node, load_seeds
from crawler.daemon import Daemon, DaemonOptions, NodeCrawl, WorkerCrawl
from crawler.dates import from_iso
from crawler.mirror import Mirror
from crawler.nodes import ScrapydClient, crawl_settings, get_unfinished_job, schedule_crawl
from crawler.polling import STOPPING, read_node_run
from tests.helpers import (
    WAIT_CEILING,
    query,
    reaped,
    start_followup_daemon,
    wait_until,
    write_seeds,
)
from tests.notify_receivers import readme_section
from tests.services import ScrapydServer, running_scrapyd
from tests.test_daemon import DAILY, logged

AUTH_ENV, WRONG_ENV = "TESTS_NODE_AUTH", "TESTS_NODE_WRONG_AUTH"
USER, PASSWORD = "crawl", "s3cret"
NEWS_FEED = "https://news.example.com/feed.xml"
README_SECTION = "## Crawl nodes (Scrapyd)"

NEWS_ON_NODE = """
[[source]]
id = "news"
site = "generic"
node = "cn"
feeds = ["{https://news.example.com/feed.xml}"]
every = "1s"
min_every = "1s"
max_every = "2s"
"""
# Sources whose node is down, and whose node refuses the daemon's credentials.
UNREACHABLE = """
[[source]]
id = "faraway"
site = "generic"
node = "us"
feeds = ["{https://daily.example.org/rss}"]
every = "1s"
min_every = "1s"
max_every = "1m"

[[source]]
id = "locked"
site = "generic"
node = "eu"
feeds = ["{https://daily.example.org/rss}"]
every = "1s"
min_every = "1s"
max_every = "1m"
"""


@pytest.fixture(scope="module")
def scrapyd() -> Iterator[ScrapydServer]:
    with running_scrapyd(username=USER, password=PASSWORD) as server:
        yield server


def seeds_on_nodes(
    tmp_path: Path, web: Mirror, scrapyd: ScrapydServer, sources: str, *, down_url: str
) -> Path:
    seeds = write_seeds(tmp_path / "seeds", web, sources)
    nodes = [
        f'id = "cn"\nurl = "{scrapyd.url}"\nauth_env = "{AUTH_ENV}"',
        f'id = "us"\nurl = "{down_url}"',  # nobody listens there
        f'id = "eu"\nurl = "{scrapyd.url}"\nauth_env = "{WRONG_ENV}"',  # refuses: wrong password
    ]
    text = "".join(f"[[node]]\n{entry}\n\n" for entry in nodes)
    (seeds / "nodes.toml").write_text(text, encoding="utf-8")
    return seeds


def assert_the_readme_log_is_this_log(text: str, section: str = README_SECTION) -> None:
    """Each line of the README's daemon log (in `section`), its figures (times, ports, counts)
    left open, is a line of this run's log."""
    (block,) = re.findall(r"```log\n(.*?)```", readme_section(section), re.S)
    lines = text.splitlines()
    for shown in block.splitlines():
        pattern = re.compile(re.sub(r"\d+", r"\\d+", re.escape(shown)))
        assert any(pattern.fullmatch(line) for line in lines), f"README line not logged: {shown}"


def finished_runs(db: Path, source: str) -> list[dict[str, object]]:
    rows = query(
        db,
        "SELECT id, job, stats FROM crawl_runs WHERE sources = ? AND stats IS NOT NULL ORDER BY id",
        json.dumps([source]),
    )
    return [dict(row) for row in rows]


def failures(db: Path, source: str) -> int:
    rows = query(db, "SELECT consecutive_failures FROM source_state WHERE source = ?", source)
    return int(rows[0]["consecutive_failures"]) if rows else 0


def unfinished_jobs(scrapyd: ScrapydServer) -> list[str]:
    client = ScrapydClient(Node("cn", scrapyd.url, auth_env=AUTH_ENV))
    return [job.id for job in client.list_jobs() if job.state != "finished"]


@pytest.fixture
def node_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    """The node's credentials, for this process and the daemons it starts; and wrong ones for
    node eu."""
    monkeypatch.setenv(AUTH_ENV, f"{USER}:{PASSWORD}")
    monkeypatch.setenv(WRONG_ENV, f"{USER}:wrong")


def start_daemon(seeds: Path, db: Path, log: Path, *args: str) -> subprocess.Popen[str]:
    """The daemon, its local crawls in one worker process."""
    return start_followup_daemon(seeds, db, log, "--workers", "1", *args)


def test_node_sources_are_jobs_a_dead_node_backs_off_and_sigterm_cancels_the_running_job(
    web: Mirror, tmp_path: Path, scrapyd: ScrapydServer, node_auth: None, down_url: str
) -> None:
    seeds = seeds_on_nodes(
        tmp_path, web, scrapyd, NEWS_ON_NODE + DAILY + UNREACHABLE, down_url=down_url
    )
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"

    def all_under_way() -> bool:
        by_job = [run for run in finished_runs(db, "news") if run["job"]]
        here = [run for run in finished_runs(db, "daily") if run["job"] is None]
        return (
            len(by_job) >= 2
            and len(here) >= 2
            and failures(db, "faraway") >= 2
            and failures(db, "locked") >= 2
        )

    with reaped(start_daemon(seeds, db, log)) as daemon:
        wait_until(
            all_under_way,
            "two node runs of news and two local runs of daily, while both unreachable nodes fail",
        )
        gate = web.hold(NEWS_FEED)  # the next job waits on its feed
        try:
            wait_until(gate.arrived.is_set, "a news job to ask for its feed")
            daemon.send_signal(signal.SIGTERM)
            wait_until(lambda: "cancelled with SIGINT" in logged(log), "the job's SIGINT")
        finally:
            gate.release()
        _, stderr = daemon.communicate(timeout=WAIT_CEILING)
    text = logged(log)
    assert daemon.returncode == 0, stderr + text
    assert unfinished_jobs(scrapyd) == [], "the daemon's stop left a job running on the node"

    # Crawled by Scrapyd jobs named for the source, read back by job id, articles stored.
    news = finished_runs(db, "news")
    assert all(str(run["job"]).startswith("news-") for run in news)
    assert query(db, "SELECT count(*) AS n FROM articles WHERE source = 'news'")[0]["n"] > 0
    assert query(db, "SELECT count(*) AS n FROM articles WHERE source = 'daily'")[0]["n"] > 0
    (state,) = query(db, "SELECT * FROM source_state WHERE source = 'news'")
    assert state["last_run_id"] == news[-1]["id"]
    # SIGTERM reached the job as Scrapy's graceful stop: it recorded its run as shut down.
    assert json.loads(str(news[-1]["stats"]))["reason"] == "shutdown"
    assert "news: stopping its job news-" in text and "daemon stopping" in text

    # Unreachable nodes: failures of their sources only, backing off (1 s × 2^failures).
    states = {row["source"]: row for row in query(db, "SELECT * FROM source_state")}
    for source in ("faraway", "locked"):
        row = states[source]
        wait = from_iso(row["next_run_at"]) - from_iso(row["last_run_at"])
        assert wait >= timedelta(seconds=2 ** row["consecutive_failures"]), (source, wait)
    assert "node us (" in states["faraway"]["last_error"]
    assert "is down" in states["faraway"]["last_error"]
    assert "HTTP 401 (check the user:password" in states["locked"]["last_error"]
    shown = CliRunner().invoke(cli, ["status", "--db", str(db), "--json", "--max-failing", "1s"])
    health = {s["source"]: [h["code"] for h in s["health"]] for s in json.loads(shown.stdout)}
    assert "failing" in health["faraway"] and "failing" in health["locked"]
    assert "failing" not in health["news"] and "failing" not in health["daily"]

    # Which job produced a run: `followup status` (last_job) and `followup nodes` (each job's run).
    last_jobs = {s["source"]: s["last_job"] for s in json.loads(shown.stdout)}
    assert last_jobs["news"] == news[-1]["job"] and last_jobs["daily"] is None
    listed = CliRunner().invoke(cli, ["nodes", "--seeds", str(seeds), "--db", str(db), "--json"])
    assert listed.exit_code == 1  # two of the three nodes cannot be asked
    near = json.loads(listed.stdout)[0]
    runs = {job["id"]: job["run"] for job in near["jobs"]}
    assert runs[news[-1]["job"]] == {"id": news[-1]["id"], "reason": "shutdown", "new": 0}
    assert runs[news[0]["job"]]["reason"] == "finished" and runs[news[0]["job"]]["new"] > 0
    as_text = CliRunner().invoke(cli, ["nodes", "--seeds", str(seeds), "--db", str(db)]).stdout
    last = news[-1]
    assert f"  {last['job']}  followup  " in as_text
    assert as_text.count(f"  run {last['id']}: 0 new, shutdown\n") == 1
    assert_the_readme_log_is_this_log(text)


def test_a_job_past_the_daemons_timeout_is_cancelled_and_counted_as_failing(
    web: Mirror, tmp_path: Path, scrapyd: ScrapydServer, node_auth: None, down_url: str
) -> None:
    seeds = seeds_on_nodes(tmp_path, web, scrapyd, NEWS_ON_NODE, down_url=down_url)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    gate = web.hold(NEWS_FEED)  # the job cannot end before the daemon's timeout
    try:
        with reaped(start_daemon(seeds, db, log, "--timeout", "1s", "--grace", "1s")) as daemon:
            wait_until(lambda: failures(db, "news") >= 1, "the timed-out job to count as a failure")
            (state,) = query(db, "SELECT * FROM source_state WHERE source = 'news'")
            gate.release()
            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=WAIT_CEILING)
    finally:
        gate.release()
    text = logged(log)
    assert daemon.returncode == 0, stderr + text
    assert "timed out after 1s" in state["last_error"]
    assert "news: stopping its job news-" in text and "cancelled with SIGINT" in text
    assert unfinished_jobs(scrapyd) == []


# The daemon's side, in process ------------------------------------------------------------


def test_node_jobs_get_the_daemons_settings_and_never_wait_for_a_local_slot(
    web: Mirror, tmp_path: Path
) -> None:
    sources = NEWS_ON_NODE + DAILY
    seeds_dir = write_seeds(tmp_path / "seeds", web, sources)
    (seeds_dir / "nodes.toml").write_text('[[node]]\nid = "cn"\nurl = "http://x:6800"\n')
    options = DaemonOptions(
        seeds_dir=seeds_dir,
        db_path=tmp_path / "f.db",
        crawl_args=("-s", "DOWNLOAD_DELAY=0", "-v", "-s", "CLOSESPIDER_TIMEOUT=60"),
        max_crawls=1,
    )
    assert options.settings == {"DOWNLOAD_DELAY": "0", "CLOSESPIDER_TIMEOUT": "60"}

    async def slots() -> tuple[bool, bool]:
        daemon = Daemon(load_seeds(seeds_dir), options)
        try:
            local = daemon._new_crawl(daemon.sources["daily"])
            on_node = daemon._new_crawl(daemon.sources["news"])
            assert isinstance(local, WorkerCrawl) and isinstance(on_node, NodeCrawl)
            async with daemon._slot(local):  # the one local slot is taken
                node_entered = await _enters(daemon._slot(on_node))
                local_entered = await _enters(daemon._slot(WorkerCrawl("other")))
            return node_entered, local_entered
        finally:
            daemon.watchers.shutdown()

    assert asyncio.run(slots()) == (True, False)


async def _enters(slot: AbstractAsyncContextManager[Any]) -> bool:
    """Whether the slot can be entered without waiting (it is left at once)."""

    async def enter() -> None:
        async with slot:
            pass

    try:
        await asyncio.wait_for(enter(), timeout=0.5)
    except TimeoutError:
        return False
    return True


def test_a_node_run_reads_as_the_crawl_it_was() -> None:
    ok = {"reason": "finished", "sources": {"news": {"lists_read": 1, "entries": 3, "new": 2}}}
    assert read_node_run("news", ok, run_id=7).ok
    assert read_node_run("news", ok, run_id=7).run_id == 7
    down = read_node_run("news", None, error="node cn (http://x/schedule.json) is down: refused")
    assert down.error == "node cn (http://x/schedule.json) is down: refused"
    assert read_node_run("news", {"sources": {}}).error == "its job recorded no run of news"
    failed = {"sources": {"news": {"lists_read": 0, "lists_failed": 1}}}
    log = "2026-11-29 10:00:00 [crawler.spiders.followup] ERROR: feed https://x/feed: HTTP 500\n"
    assert read_node_run("news", failed, log=log).error == "feed https://x/feed: HTTP 500"
    assert read_node_run("news", None, stop_reason=STOPPING).interrupted
    timed_out = read_node_run("news", None, stop_reason="timed out after 1s", log=log)
    assert timed_out.error == "timed out after 1s; feed https://x/feed: HTTP 500"


def test_a_job_left_running_on_the_node_makes_the_source_busy(
    web: Mirror, tmp_path: Path, scrapyd: ScrapydServer, node_auth: None, down_url: str
) -> None:
    """What a daemon killed with -9 leaves behind: its job still runs, so the next daemon must
    not schedule a second crawl of the source (it tries again BUSY_RETRY later)."""
    seeds = seeds_on_nodes(tmp_path, web, scrapyd, NEWS_ON_NODE, down_url=down_url)
    client = ScrapydClient(Node("cn", scrapyd.url, auth_env=AUTH_ENV))
    gate = web.hold(NEWS_FEED)
    try:
        where = crawl_settings(client.node, seeds_dir=seeds, db=tmp_path / "f.db")
        job_id = schedule_crawl(client, "news", settings=where, now=datetime(2026, 11, 29, 9))
        wait_until(gate.arrived.is_set, "the job to ask for its feed")
        assert get_unfinished_job(client, "news") == job_id
        assert get_unfinished_job(client, "new") is None  # another source's prefix
        client.cancel(job_id, signal="KILL")
    finally:
        gate.release()
    wait_until(lambda: get_unfinished_job(client, "news") is None, "the killed job to end")
