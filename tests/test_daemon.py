"""The installed `followup daemon` as a real process, polling the local web every second.

Nothing here depends on the machine's speed: slow servers are held pages (Mirror.hold) that
answer only when the test lets them, and every wait is on a condition with a generous ceiling.
Every daemon is reaped and every crawl it left behind is killed, whatever the test's outcome.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import sqlite3
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from crawler.dates import from_iso
from crawler.mirror import Mirror
from tests.helpers import (
    WAIT_CEILING,
    WEB,
    assert_consistent,
    query,
    reaped,
    start_followup_daemon,
    wait_until,
    write_seeds,
)

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
HUNG = """
[[source]]
id = "hung"
site = "generic"
feeds = ["{https://slow.example.com/feed}"]
every = "1s"
"""
NEWS_FEED = "https://news.example.com/feed.xml"
SLOW_FEED = "https://slow.example.com/feed"
OPED = "https://news.example.com/2026/11/21/oped.html"
SLOW_PAGES = [f"https://daily.example.org/a/{n}.html" for n in (1001, 1002, 1003)]


def start_daemon(seeds: Path, db: Path, log: Path, *args: str) -> subprocess.Popen[str]:
    # These tests follow crawls as child processes (the daemon before workers).
    return start_followup_daemon(seeds, db, log, *args, "--workers", "0")


def logged(log: Path) -> str:
    return log.read_text(encoding="utf-8") if log.exists() else ""


def sigterm_sent(log: Path, *sources: str) -> bool:
    """The daemon has signalled the crawls of these sources (the signal is queued by then)."""
    text = logged(log)
    return all(f"{source}: SIGTERM sent to its crawl" in text for source in sources)


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
def no_crawl_left(db: Path) -> Iterator[None]:
    """Kill any crawl of db still running when the block ends (a daemon killed with -9 leaves
    its crawl behind; a failed test must not leave it running)."""
    try:
        yield
    finally:
        for pid in crawl_processes(db):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextmanager
def watch_crawls(db: Path) -> Iterator[Counter[str]]:
    """Samples the live crawls every 50 ms; yields the most ever seen at once, per source.

    A crawl lives for a second at least (its interpreter's start-up alone), so none is missed;
    a scan of /proc costs ~4 ms of CPU, which every 10 ms was a third of a core.
    """
    most: Counter[str] = Counter()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for source, count in Counter(crawl_processes(db).values()).items():
                most[source] = max(most[source], count)
            done.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield most
    finally:
        done.set()
        thread.join()


def runs(db: Path, source: str) -> list[sqlite3.Row]:
    return query(db, "SELECT * FROM crawl_runs WHERE sources = ? ORDER BY id", f'["{source}"]')


def finished(db: Path, source: str) -> list[sqlite3.Row]:
    return [r for r in runs(db, source) if r["finished_at"]]


def time_of(value: str) -> datetime:
    return from_iso(value)


def test_polls_each_source_alone_backs_off_a_failing_one_and_stops_cleanly_on_sigterm(
    web: Mirror, tmp_path: Path
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, SOURCES)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    hung_feed = web.hold(SLOW_FEED)  # hung's first crawl waits on it for the whole test
    options = ("--grace", "60s", "-v")

    def news_outpaces_broken_beside_hung() -> bool:
        news, broken = finished(db, "news"), finished(db, "broken")
        return (
            hung_feed.arrived.is_set()
            and len(broken) >= 3
            and len(news) >= 4
            and len(news) > len(broken)  # broken backs off, news keeps its pace
        )

    with (
        watch_crawls(db) as most,
        no_crawl_left(db),
        reaped(start_daemon(seeds, db, log, *options)) as daemon,
    ):
        wait_until(
            news_outpaces_broken_beside_hung,
            "four runs of news, three of broken, news ahead, while hung's crawl hangs",
        )
        # The hung source's one crawl is still waiting: it held up no other source.
        assert [r["finished_at"] for r in runs(db, "hung")] == [None]
        # Stop while news crawls a new entry whose page has not answered yet.
        oped = web.hold(OPED)
        web.update_page(NEWS_FEED, body=teaser_of_new_item())
        wait_until(oped.arrived.is_set, "news to ask for its new entry's page")
        daemon.send_signal(signal.SIGTERM)
        wait_until(lambda: sigterm_sent(log, "news", "hung"), "SIGTERM to both crawls")
        oped.release()
        hung_feed.release()
        _, stderr = daemon.communicate(timeout=WAIT_CEILING)
    text = logged(log)
    assert daemon.returncode == 0, stderr + text
    assert not crawl_processes(db)

    # Never two crawls of one source at once: observed from outside, and in crawl_runs.
    assert set(most) == {"news", "broken", "hung"} and max(most.values()) == 1
    for source in ("news", "broken"):
        for before, after in itertools.pairwise(finished(db, source)):
            assert time_of(after["started_at"]) >= time_of(before["finished_at"])

    # The failing source waited longer after each failure (≥ 2 s, then ≥ 4 s: 1 s × 2^n,
    # timestamps are whole seconds), while news went on being polled every second or two
    # (news_outpaces_broken_beside_hung).
    broken = runs(db, "broken")
    waits = [
        (time_of(b["started_at"]) - time_of(a["finished_at"])).total_seconds()
        for a, b in itertools.pairwise(broken)
    ]
    assert waits[0] >= 1 and waits[1] >= 3, waits
    (state,) = query(db, "SELECT * FROM source_state WHERE source = 'broken'")
    # Every run counted as a failure, but the last one if the stop ended it.
    assert len(broken) - 1 <= state["consecutive_failures"] <= len(broken)
    assert "HTTP 500" in state["last_error"]

    # SIGTERM mid-crawl: the crawl got one SIGTERM, finished what it had, and recorded its end.
    assert "Received SIGTERM, shutting down gracefully" in text
    assert "unclean" not in text
    last = runs(db, "news")[-1]
    assert last["finished_at"] is not None and '"reason": "shutdown"' in last["stats"]
    assert_consistent(db)


def test_a_crawl_past_its_timeout_is_ended_and_counted_as_failing(
    web: Mirror, tmp_path: Path
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, HUNG)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    feed = web.hold(SLOW_FEED)  # the crawl cannot end before the daemon's timeout
    with no_crawl_left(db), reaped(start_daemon(seeds, db, log, "--timeout", "1s")) as daemon:
        wait_until(lambda: sigterm_sent(log, "hung"), "the daemon to end the hung crawl")
        feed.release()
        failing: list[sqlite3.Row] = []  # the state as soon as it counts the failure

        def counted() -> bool:
            failing[:] = query(db, "SELECT * FROM source_state WHERE consecutive_failures >= 1")
            return bool(failing)

        wait_until(counted, "the ended crawl to count as a failure")
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=WAIT_CEILING)
    text = logged(log)
    assert daemon.returncode == 0, text
    assert "hung: SIGTERM sent to its crawl" in text and "timed out after 1s" in text
    (hung,) = failing
    assert hung["source"] == "hung" and "timed out after 1s" in hung["last_error"]


def test_kill_9_mid_crawl_then_restart_stores_everything_once(web: Mirror, tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, DAILY)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    # The pages stay unanswered until the orphaned crawl is dead: it cannot finish early.
    pages = [web.hold(url) for url in SLOW_PAGES]
    with no_crawl_left(db):
        with reaped(start_daemon(seeds, db, log)) as first:
            wait_until(
                # (two at a time: all mirrored hosts are 127.0.0.1, one Scrapy download slot)
                lambda: query(db, "SELECT 1 FROM seen") and any(p.arrived.is_set() for p in pages),
                "the first crawl to write and to wait on its pages",
            )
            (orphan,) = crawl_processes(db)
            first.kill()  # kill -9: its crawl goes on, orphaned, holding the source's lock

        with watch_crawls(db) as most, reaped(start_daemon(seeds, db, log)) as second:
            wait_until(lambda: "an earlier crawl still runs" in logged(log), "the lock")
            os.kill(orphan, signal.SIGKILL)  # and now the crawl itself dies half way
            for page in pages:
                page.release()
            wait_until(
                lambda: query(db, "SELECT 1 FROM source_state WHERE last_success_at IS NOT NULL"),
                "a complete crawl after the restart",
            )
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=WAIT_CEILING)
    assert second.returncode == 0, logged(log)
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
    with no_crawl_left(db), reaped(start_daemon(seeds, db, tmp_path / "first.log")) as first:
        wait_until(lambda: query(db, "SELECT 1 FROM source_state"), "the first daemon")
        with reaped(start_daemon(seeds, db, tmp_path / "second.log")) as second:
            _, stderr = second.communicate(timeout=WAIT_CEILING)
        assert second.returncode == 2
        assert f"another followup daemon (pid {first.pid}) is polling" in stderr
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=WAIT_CEILING)
    assert first.returncode == 0
