"""Crawl nodes: nodes.toml, a source's node, the Scrapyd client and `followup nodes`, against a
real Scrapyd on 127.0.0.1 that runs the installed project's spider over the local web."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import ConfigError, Node, load_seeds
from crawler.mirror import Mirror
from crawler.nodes import NodeError, NodeRun, ScrapydClient, get_node_status, run_on_node
from crawler.store import Store
from tests.helpers import (
    FAST_SETTINGS,
    HEALTHY_SOURCES,
    WAIT_CEILING,
    crawl,
    run_followup,
    wait_until,
    write_seeds,
)
from tests.services import ScrapydServer, running_scrapyd

AUTH_ENV = "TESTS_SCRAPYD_AUTH"
CREDENTIALS = "crawl:s3cret"


def nodes_toml(*entries: str) -> str:
    return "\n".join(f"[[node]]\n{entry}\n" for entry in entries)


def seeds_with_nodes(tmp_path: Path, mirror: Mirror, nodes: str, sources: str = "") -> Path:
    seeds = write_seeds(tmp_path / "seeds", mirror, sources or HEALTHY_SOURCES)
    (seeds / "nodes.toml").write_text(nodes, encoding="utf-8")
    return seeds


# nodes.toml and a source's node ------------------------------------------------------------


def test_nodes_and_a_sources_node_are_read(tmp_path: Path, web: Mirror) -> None:
    sources = HEALTHY_SOURCES.replace('id = "daily"', 'id = "daily"\nnode = "cn"')
    seeds = seeds_with_nodes(
        tmp_path,
        web,
        nodes_toml(f'id = "cn"\nurl = "http://10.0.0.5:6800/"\nauth_env = "{AUTH_ENV}"'),
        sources,
    )
    loaded = load_seeds(seeds)
    assert loaded.nodes == (Node("cn", "http://10.0.0.5:6800", auth_env=AUTH_ENV),)
    assert {s.id: s.node for s in loaded.sources} == {"news": None, "daily": "cn", "listed": None}
    assert loaded.select(sources=["daily"]).node("cn").url == "http://10.0.0.5:6800"


def test_no_nodes_file_means_no_nodes(tmp_path: Path, web: Mirror) -> None:
    assert load_seeds(write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES)).nodes == ()


@pytest.mark.parametrize(
    ("entry", "names"),
    [
        ('id = "cn"', ["[[node]] #1 (id 'cn')", "key 'url'", "missing"]),
        ('id = "cn"\nurl = "ftp://x"', ["key 'url'", "not an http(s) URL of a Scrapyd server"]),
        ('id = "cn"\nurl = "http://x:6800"\nauth_env = "crawl:pw"', ["key 'auth_env'", "never"]),
        ('id = "cn"\nurl = "http://x:6800"\nhost = "x"', ["key 'host'", "allowed: auth_env"]),
        ('id = "CN"\nurl = "http://x:6800"', ["key 'id'", "[a-z0-9_]+"]),
    ],
)
def test_a_bad_node_names_file_entry_key_and_fix(
    tmp_path: Path, web: Mirror, entry: str, names: list[str]
) -> None:
    seeds = seeds_with_nodes(tmp_path, web, nodes_toml(entry))
    with pytest.raises(ConfigError) as raised:
        load_seeds(seeds)
    assert str(raised.value).startswith(f"{seeds / 'nodes.toml'}: ")
    for name in names:
        assert name in str(raised.value)


def test_a_source_naming_an_unknown_node_is_refused_with_exit_2(
    tmp_path: Path, web: Mirror
) -> None:
    sources = HEALTHY_SOURCES.replace('id = "daily"', 'id = "daily"\nnode = "us"')
    seeds = seeds_with_nodes(tmp_path, web, nodes_toml('id = "cn"\nurl = "http://x:6800"'), sources)
    result = CliRunner().invoke(
        cli, ["crawl", "--seeds", str(seeds), "--db", str(tmp_path / "f.db")]
    )
    assert result.exit_code == 2
    assert "[[source]] #2 (id 'daily'): key 'node': no node 'us'" in result.output
    assert "known: cn" in result.output
    assert "Traceback" not in result.output


def test_followup_nodes_refuses_a_bad_nodes_file_with_exit_2(tmp_path: Path, web: Mirror) -> None:
    seeds = seeds_with_nodes(tmp_path, web, "[node]\nid = 1\n")
    result = CliRunner().invoke(cli, ["nodes", "--seeds", str(seeds)])
    assert result.exit_code == 2
    assert "nodes.toml: 'node' must be an array of tables, written [[node]]" in result.output


# A real Scrapyd ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scrapyd() -> Iterator[ScrapydServer]:
    """One Scrapyd (basic auth on) for this module's tests."""
    user, password = CREDENTIALS.split(":")
    with running_scrapyd(username=user, password=password) as server:
        yield server


@pytest.fixture
def node(scrapyd: ScrapydServer, monkeypatch: pytest.MonkeyPatch) -> Node:
    monkeypatch.setenv(AUTH_ENV, CREDENTIALS)
    return Node("local", scrapyd.url, auth_env=AUTH_ENV)


def finished(client: ScrapydClient, job_id: str) -> bool:
    return any(job.id == job_id and job.state == "finished" for job in client.list_jobs())


def test_a_node_crawls_a_source_and_the_run_is_read_from_crawl_runs(
    tmp_path: Path, web: Mirror, node: Node
) -> None:
    seeds, db = write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES), tmp_path / "node.db"
    client = ScrapydClient(node)
    job_id = client.schedule(
        "followup",
        job_id="news-1",
        settings={**FAST_SETTINGS, "FOLLOWUP_SEEDS": str(seeds), "FOLLOWUP_DB": str(db)},
        arguments={"source": "news"},
    )
    assert job_id == "news-1"
    wait_until(lambda: finished(client, job_id), "the node's job to finish")
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT sources, finished_at, stats, job FROM crawl_runs").fetchall()
        stored = conn.execute("SELECT DISTINCT source FROM articles").fetchall()
    conn.close()
    assert [(json.loads(r[0]), r[1] is not None) for r in runs] == [(["news"], True)], runs
    assert runs[0][3] == "news-1"  # Scrapyd's job id, which the daemon reads the run by
    stats = json.loads(runs[0][2])
    assert stats["reason"] == "finished"
    assert stats["sources"]["news"]["new"] > 0
    assert stored == [("news",), ("seeds",)]  # only the named source, and the topic's seed


def test_a_job_is_cancelled(tmp_path: Path, web: Mirror, node: Node) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES)
    gate = web.hold("https://news.example.com/feed.xml")  # the crawl waits on its feed
    try:
        client = ScrapydClient(node)
        settings = {"FOLLOWUP_SEEDS": str(seeds), "FOLLOWUP_DB": str(tmp_path / "node.db")}
        job_id = client.schedule("followup", settings=settings, arguments={"source": "news"})
        wait_until(
            lambda: any(j.id == job_id and j.state == "running" for j in client.list_jobs()),
            "the job to run",
        )
        assert client.cancel(job_id) == "running"
        wait_until(lambda: finished(client, job_id), "the cancelled job to end")
    finally:
        gate.release()


def test_wrong_or_missing_credentials_name_the_variable(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AUTH_ENV, "crawl:wrong")
    with pytest.raises(
        NodeError, match=r"HTTP 401 \(check the user:password in the node's auth_env"
    ):
        ScrapydClient(node).daemon_status()
    monkeypatch.delenv(AUTH_ENV)
    with pytest.raises(
        NodeError, match=f"set the environment variable {AUTH_ENV} to user:password"
    ):
        ScrapydClient(node).daemon_status()


def test_a_refused_schedule_says_what_scrapyd_said(node: Node) -> None:
    with pytest.raises(
        NodeError, match=r"node local \(http://127\.0\.0\.1:\d+/schedule\.json\): .*no-such"
    ):
        ScrapydClient(node).schedule("no-such-spider")


def test_followup_nodes_lists_jobs_and_a_node_that_is_down(
    tmp_path: Path, web: Mirror, node: Node, down_url: str
) -> None:
    down = down_url  # nobody listens there
    nodes = nodes_toml(
        f'id = "local"\nurl = "{node.url}"\nauth_env = "{AUTH_ENV}"', f'id = "gone"\nurl = "{down}"'
    )
    seeds = seeds_with_nodes(tmp_path, web, nodes)
    client = ScrapydClient(node)
    settings = {
        **FAST_SETTINGS,
        "FOLLOWUP_SEEDS": str(seeds),
        "FOLLOWUP_DB": str(tmp_path / "n.db"),
    }
    job_id = client.schedule(
        "followup", job_id="listed-7", settings=settings, arguments={"source": "listed"}
    )
    wait_until(lambda: finished(client, job_id), "the node's job to finish")

    result = CliRunner().invoke(cli, ["nodes", "--seeds", str(seeds)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"local  {node.url}  up  ")
    assert any(line.split()[:3] == ["finished", "listed-7", "followup"] for line in lines)
    assert lines[-1].startswith(f"gone  {down}  DOWN  node gone ({down}/daemonstatus.json) is down")

    shown = json.loads(CliRunner().invoke(cli, ["nodes", "--seeds", str(seeds), "--json"]).output)
    assert [(n["id"], n["up"]) for n in shown] == [("local", True), ("gone", False)]
    assert any(j["id"] == "listed-7" and j["state"] == "finished" for j in shown[0]["jobs"])
    assert get_node_status(Node("gone", down)).up is False


def test_the_installed_command_lists_nodes(tmp_path: Path, web: Mirror, node: Node) -> None:
    seeds = seeds_with_nodes(
        tmp_path, web, nodes_toml(f'id = "local"\nurl = "{node.url}"\nauth_env = "{AUTH_ENV}"')
    )
    result = run_followup("nodes", "--seeds", str(seeds), env={AUTH_ENV: CREDENTIALS})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"local  {node.url}  up  ")
    assert "Traceback" not in result.stderr


# A source's crawl on its node, watched ------------------------------------------------------


# Two sources of the local web that carry a common story (news and daily).
TWO_SOURCES = HEALTHY_SOURCES.split('[[source]]\nid = "listed"')[0]


@pytest.fixture
def shared(tmp_path: Path, web: Mirror) -> tuple[Path, Path]:
    """Seeds of two sources of the local web, and the store the daemon and nodes share."""
    db = tmp_path / "shared.db"
    Store.open(db).close()
    return write_seeds(tmp_path / "seeds", web, TWO_SOURCES), db


def crawl_on(
    client: ScrapydClient, source: str, shared: tuple[Path, Path], minute: int, **options: Any
) -> NodeRun:
    """run_on_node of one source at 09:<minute>, into the shared store."""
    seeds, db = shared
    settings = {**FAST_SETTINGS, "FOLLOWUP_SEEDS": str(seeds), "FOLLOWUP_DB": str(db)}
    options = {"timeout": WAIT_CEILING, "interval": 0.2, **options}
    now = datetime(2026, 11, 29, 9, minute)
    return run_on_node(client, source, db_path=db, settings=settings, now=now, **options)


def test_run_on_node_reads_the_jobs_result_from_crawl_runs(
    shared: tuple[Path, Path], node: Node
) -> None:
    earlier = Store.open(shared[1])  # a run of another source before: never taken for the node's
    earlier.finish_run(earlier.start_run(["news"]), {"reason": "finished", "sources": {}})
    earlier.close()
    run = crawl_on(ScrapydClient(node), "daily", shared, 38)
    assert (run.job_id, run.error, run.failed) == ("daily-20261129T093800", None, False)
    assert run.stats is not None and run.stats["reason"] == "finished"
    assert run.stats["sources"]["daily"]["new"] > 0
    assert run.ok and run.run_id == 2  # found by its job id, after the earlier run


def test_run_on_node_cancels_a_job_past_its_timeout(
    shared: tuple[Path, Path], web: Mirror, node: Node
) -> None:
    gate = web.hold("https://news.example.com/feed.xml")  # the job can never finish on its own
    try:
        # The held download does not let it close after its SIGINT: killed after the grace.
        run = crawl_on(ScrapydClient(node), "news", shared, 40, timeout=1.0, grace=0.5)
    finally:
        gate.release()
    assert run.failed
    assert run.error == "node local: job news-20261129T094000 cancelled: --timeout (1 s)"
    assert not any(job.state != "finished" for job in ScrapydClient(node).list_jobs())


def test_run_on_node_cancels_its_job_when_the_daemon_stops(
    shared: tuple[Path, Path], web: Mirror, node: Node
) -> None:
    gate = web.hold("https://news.example.com/feed.xml")

    class ReleasingClient(ScrapydClient):
        """Answers the held feed once the job has its SIGINT: it closes without waiting."""

        def cancel(self, job_id: str, *, signal: str = "INT") -> str:
            try:
                return super().cancel(job_id, signal=signal)
            finally:
                gate.release()

    def stopping() -> bool:
        # robots.txt is asked for after the spider recorded its run, before the (held) feed.
        return any(h.url == "https://news.example.com/robots.txt" for h in web.hits)

    try:
        run = crawl_on(ReleasingClient(node), "news", shared, 41, stopping=stopping)
    finally:
        gate.release()
    assert run.error == "node local: job news-20261129T094100 cancelled: the daemon is stopping"
    # Scrapyd stopped it with SIGINT: the spider closed and recorded its run as shut down.
    assert run.stats is not None and run.stats["reason"] == "shutdown"


def test_run_on_node_with_the_node_down_is_that_sources_failure(
    shared: tuple[Path, Path], down_url: str
) -> None:
    run = crawl_on(ScrapydClient(Node("gone", down_url)), "news", shared, 42)
    assert (run.failed, run.job_id, run.stats) == (True, None, None)
    assert run.error is not None and "node gone (" in run.error and ") is down:" in run.error


def stories(db: Path) -> tuple[int, int, set[str]]:
    """Articles stored, duplicates recorded, and every URL either holds."""
    with sqlite3.connect(db) as conn:
        articles = [url for (url,) in conn.execute("SELECT url FROM articles")]
        duplicates = [url for (url,) in conn.execute("SELECT url FROM duplicates")]
    conn.close()
    return len(articles), len(duplicates), {*articles, *duplicates}


def test_two_nodes_crawling_the_same_story_at_once_store_it_once(
    shared: tuple[Path, Path], tmp_path: Path, node: Node
) -> None:
    seeds, db = shared
    alone = tmp_path / "alone.db"
    crawl(seeds, alone, settings=FAST_SETTINGS)  # one process, both sources, one after another
    expected = stories(alone)
    assert expected[1] >= 1, "the two sources must carry a common story, or this proves nothing"
    with running_scrapyd() as other, ThreadPoolExecutor(2) as pool:
        clients = [ScrapydClient(node), ScrapydClient(Node("other", other.url))]
        runs = list(pool.map(lambda c, s: crawl_on(c, s, shared, 43), clients, ["news", "daily"]))
    assert [run.error for run in runs] == [None, None]
    assert stories(db) == expected


def test_a_job_killed_mid_crawl_stores_each_story_once_after_the_retry(
    shared: tuple[Path, Path], tmp_path: Path, web: Mirror, node: Node
) -> None:
    daily = "[[source]]" + TWO_SOURCES.split("[[source]]")[2]
    alone = tmp_path / "alone.db"
    crawl(write_seeds(tmp_path / "daily", web, daily), alone, settings=FAST_SETTINGS)
    expected = stories(alone)
    page = sorted(url for url in expected[2] if "/a/" in url)[0]
    gate = web.hold(web.real_url(page))  # this page is never answered before the kill

    def stopping() -> bool:  # the feed was read: its pages are being fetched
        return any(h.url == "https://daily.example.org/rss" for h in web.hits)

    try:
        killed = crawl_on(ScrapydClient(node), "daily", shared, 44, stopping=stopping, grace=0)
    finally:
        gate.release()
    assert killed.failed
    assert page not in stories(shared[1])[2]
    retried = crawl_on(ScrapydClient(node), "daily", shared, 45)
    assert (retried.error, stories(shared[1])) == (None, expected)
