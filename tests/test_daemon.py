"""The installed `followup daemon` as a real process, polling the local web every second."""

from __future__ import annotations

import itertools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.dates import from_iso
from crawler.mirror import Mirror
from tests.helpers import WEB, setting_args, write_seeds

pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")

SOURCES = """
[[source]]
id = "news"
site = "generic"
feeds = ["{https://news.example.com/feed.xml}"]
every = "1s"
min_every = "1s"
max_every = "2s"

[[source]]
id = "broken"
site = "generic"
feeds = ["{https://broken.example.com/feed}"]
every = "1s"
min_every = "1s"
max_every = "1m"

[[source]]
id = "hung"
site = "generic"
feeds = ["{https://slow.example.com/feed}"]
every = "1s"
min_every = "1s"
max_every = "1m"
"""
DAILY = """
[[source]]
id = "daily"
site = "generic"
feeds = ["{https://daily.example.org/rss}"]
every = "1s"
min_every = "1s"
max_every = "2s"
"""
NEWS_FEED = "https://news.example.com/feed.xml"
OPED = "https://news.example.com/2026/11/21/oped.html"
SLOW_PAGES = [f"https://daily.example.org/a/{n}.html" for n in (1001, 1002, 1003)]


def start_daemon(seeds: Path, db: Path, log: Path, *args: str) -> subprocess.Popen[str]:
    command = Path(sys.executable).with_name("followup")
    return subprocess.Popen(
        [
            *(str(command), "daemon", "--seeds", str(seeds), "--db", str(db)),
            *("--log-file", str(log), *setting_args(), *args),
            # These tests follow crawls as child processes (the daemon before workers).
            *("--workers", "0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def query(db: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    """Rows read with a connection of their own, as another program would while the daemon writes."""
    if not db.exists():
        return []
    with closing(sqlite3.connect(db, timeout=10)) as connection:
        connection.row_factory = sqlite3.Row
        try:
            return connection.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:  # a table the daemon has not created yet
            if "no such table" in str(exc):
                return []
            raise


def wait_until(check: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.05)


def teaser_of_new_item() -> bytes:
    """The news feed with a new entry whose description is a teaser: its page must be fetched."""
    feed = (WEB / "news.example.com/new-item.xml").read_text(encoding="utf-8")
    first_item = re.compile(r"(<item>.*?<description><!\[CDATA\[).*?(\]\]></description>)", re.S)
    return first_item.sub(r"\1<p>导语</p>\2", feed, count=1).encode("utf-8")


def crawl_processes(db: Path) -> dict[int, str]:
    """pid → source of every live `crawl` process writing to db, the daemon's children or not.

    A crawl's own short-lived helper (a fork that has not yet exec'd) shows the crawl's command
    line too; it is recognised by its parent and left out.
    """
    found, parents = {}, {}
    for entry in Path("/proc").iterdir():
        try:
            args = [a.decode() for a in (entry / "cmdline").read_bytes().split(b"\0")]
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if "crawl" in args and "--db" in args and args[args.index("--db") + 1] == str(db):
            found[int(entry.name)] = args[args.index("--source") + 1]
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return {pid: source for pid, source in found.items() if parents[pid] not in found}


@contextmanager
def watch_crawls(db: Path) -> Iterator[Counter[str]]:
    """Samples the live crawls every 10 ms; yields the most ever seen at once, per source."""
    most: Counter[str] = Counter()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for source, count in Counter(crawl_processes(db).values()).items():
                most[source] = max(most[source], count)
            done.wait(0.01)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield most
    finally:
        done.set()
        thread.join()


def runs(db: Path, source: str) -> list[sqlite3.Row]:
    return query(db, "SELECT * FROM crawl_runs WHERE sources = ? ORDER BY id", f'["{source}"]')


def time_of(value: str) -> datetime:
    return from_iso(value)


def assert_consistent(db: Path) -> None:
    """Nothing half-written: every stored article has its seen row and each URL is stored once."""
    assert [tuple(r) for r in query(db, "PRAGMA integrity_check")] == [("ok",)]
    articles = [r["url"] for r in query(db, "SELECT url FROM articles")]
    duplicates = [r["url"] for r in query(db, "SELECT url FROM duplicates")]
    seen = {r["url"]: r["status"] for r in query(db, "SELECT url, status FROM seen")}
    assert len(set(articles)) == len(articles) and not set(articles) & set(duplicates)
    assert {u for u, s in seen.items() if s == "stored"} == set(articles)
    assert {u for u, s in seen.items() if s == "duplicate"} == set(duplicates)


def test_polls_each_source_alone_backs_off_a_failing_one_and_stops_cleanly_on_sigterm(
    web: Mirror, tmp_path: Path
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, SOURCES)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    options = ("--timeout", "6s", "--grace", "5s", "-s", "DOWNLOAD_TIMEOUT=20", "-v")
    with watch_crawls(db) as most:
        daemon = start_daemon(seeds, db, log, *options)
        try:
            wait_until(
                lambda: (
                    len(runs(db, "broken")) >= 3
                    and len(runs(db, "news")) >= 4
                    and "hung: crawl failed" in log.read_text()
                ),
                "four runs of news, three of broken and a timeout of hung",
            )
            # Stop while news crawls a new entry whose page takes 2 s to arrive.
            web.update_page(OPED, delay=2.0)
            web.update_page(NEWS_FEED, body=teaser_of_new_item())
            changed = len(web.hits)
            wait_until(
                lambda: any(h.url == NEWS_FEED and h.status == 200 for h in web.hits[changed:]),
                "news to fetch its changed feed",
            )
            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=20)
        finally:
            daemon.kill()
    logged = log.read_text()
    assert daemon.returncode == 0, stderr + logged
    assert not crawl_processes(db)

    # Never two crawls of one source at once: observed from outside, and in crawl_runs.
    assert set(most) == {"news", "broken", "hung"} and max(most.values()) == 1
    for source in ("news", "broken"):
        done = [r for r in runs(db, source) if r["finished_at"]]
        for before, after in itertools.pairwise(done):
            assert time_of(after["started_at"]) >= time_of(before["finished_at"])

    # The failing source waited longer after each failure (≥ 2 s, then ≥ 4 s: 1 s × 2^n,
    # timestamps are whole seconds), while news went on being polled every second or two.
    broken = runs(db, "broken")
    waits = [
        (time_of(b["started_at"]) - time_of(a["finished_at"])).total_seconds()
        for a, b in itertools.pairwise(broken)
    ]
    assert waits[0] >= 1 and waits[1] >= 3, waits
    news = [r for r in runs(db, "news") if r["finished_at"]]
    assert len(news) > len(broken)
    (state,) = query(db, "SELECT * FROM source_state WHERE source = 'broken'")
    # Every run counted as a failure, but the last one if the stop ended it.
    assert len(broken) - 1 <= state["consecutive_failures"] <= len(broken)
    assert "HTTP 500" in state["last_error"]
    # The hung source was ended at its timeout and counted as failing; news was not delayed.
    (hung,) = query(db, "SELECT * FROM source_state WHERE source = 'hung'")
    assert hung["consecutive_failures"] >= 1 and "timed out after 6s" in logged

    # SIGTERM mid-crawl: the crawl got one SIGTERM, finished what it had, and recorded its end.
    assert "Received SIGTERM, shutting down gracefully" in logged
    assert "unclean" not in logged
    last = runs(db, "news")[-1]
    assert last["finished_at"] is not None and '"reason": "shutdown"' in last["stats"]
    assert_consistent(db)


def test_kill_9_mid_crawl_then_restart_stores_everything_once(web: Mirror, tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, DAILY)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    for url in SLOW_PAGES:
        web.update_page(url, delay=3.0)
    slow = ("-s", "DOWNLOAD_TIMEOUT=10")
    first = start_daemon(seeds, db, log, *slow)
    try:
        wait_until(lambda: query(db, "SELECT 1 FROM seen"), "the first crawl to write")
        (orphan,) = crawl_processes(db)
    finally:
        first.kill()  # kill -9: its crawl goes on, orphaned, holding the source's lock
        first.communicate()

    with watch_crawls(db) as most:
        second = start_daemon(seeds, db, log, *slow)
        try:
            wait_until(lambda: "an earlier crawl still runs" in log.read_text(), "the lock")
            os.kill(orphan, signal.SIGKILL)  # and now the crawl itself dies half way
            wait_until(
                lambda: query(db, "SELECT 1 FROM source_state WHERE last_success_at IS NOT NULL"),
                "a complete crawl after the restart",
            )
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=20)
        finally:
            second.kill()
    assert second.returncode == 0, log.read_text()
    assert most["daily"] == 1  # the new daemon never crawled beside the orphan

    stored = {web.real_url(r["url"]) for r in query(db, "SELECT url FROM articles")}
    assert stored == {
        "https://daily.example.org/a/1001.html",
        "https://daily.example.org/a/1002.html",
        "https://list.example.net/news/1999.html",  # the topic seed
    }
    seen = {web.real_url(r["url"]): r["status"] for r in query(db, "SELECT * FROM seen")}
    assert seen["https://daily.example.org/a/1003.html"] == "irrelevant"
    assert_consistent(db)
    # The killed crawls say so: started, never finished.
    assert any(r["finished_at"] is None for r in runs(db, "daily"))


def test_a_second_daemon_on_the_same_database_is_refused(web: Mirror, tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, DAILY)
    db = tmp_path / "f.db"
    first = start_daemon(seeds, db, tmp_path / "first.log")
    try:
        wait_until(lambda: query(db, "SELECT 1 FROM source_state"), "the first daemon")
        second = start_daemon(seeds, db, tmp_path / "second.log")
        _, stderr = second.communicate(timeout=20)
        assert second.returncode == 2
        assert f"another followup daemon (pid {first.pid}) is polling" in stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=20)
    assert first.returncode == 0
