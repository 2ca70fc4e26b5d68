"""`followup daemon` with worker processes: one Scrapy process runs many crawls.

Real daemons against the local web (crawler.mirror.Mirror): several sources crawled by one
worker, a stuck source ended alone at its timeout, a worker killed with -9 mid-wave, workers
recycled, --max-crawls respected. Every wait has a generous ceiling; every process is reaped.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crawler.mirror import Mirror
from tests.helpers import (
    WAIT_CEILING,
    assert_consistent,
    query,
    start_followup_daemon,
    wait_until,
    write_seeds,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")


def source(source_id: str, feed: str, *, every: str = "1s", max_every: str = "2s") -> str:
    return f"""
[[source]]
id = "{source_id}"
site = "generic"
feeds = ["{{{feed}}}"]
every = "{every}"
min_every = "1s"
max_every = "{max_every}"
"""


NEWS = source("news", "https://news.example.com/feed.xml")
DAILY = source("daily", "https://daily.example.org/rss")
LISTED = """
[[source]]
id = "listed"
site = "generic"
lists = ["{https://list.example.net/news/}"]
every = "1s"
min_every = "1s"
max_every = "2s"
"""
# Held by the tests that use it (Mirror.hold): it answers only when they release it.
STUCK_FEED = "https://slow.example.com/feed"
STUCK = source("stuck", STUCK_FEED, max_every="1m")
SLOW_PAGES = [f"https://daily.example.org/a/{n}.html" for n in (1001, 1002, 1003)]


@contextmanager
def running_daemon(seeds: Path, db: Path, log: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """The installed `followup daemon` with the fast settings, killed and reaped (workers too)
    whatever happens."""
    daemon = start_followup_daemon(seeds, db, log, *args)
    try:
        yield daemon
    finally:
        if daemon.poll() is None:
            daemon.kill()
        daemon.communicate()
        for pid in worker_pids(db):
            os.killpg(pid, signal.SIGKILL)


def stop(daemon: subprocess.Popen[str]) -> str:
    daemon.send_signal(signal.SIGTERM)
    _, stderr = daemon.communicate(timeout=WAIT_CEILING)
    return stderr


def worker_pids(db: Path) -> list[int]:
    """Live `followup worker` processes writing to db."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = [a.decode() for a in (entry / "cmdline").read_bytes().split(b"\0")]
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        ours = "worker" in args and "--db" in args and args[args.index("--db") + 1] == str(db)
        if ours and stat.rsplit(")", 1)[1].split()[0] != "Z":  # not a zombie
            found.append(int(entry.name))
    return found


def finished_runs(db: Path, source_id: str) -> list[sqlite3.Row]:
    return query(
        db,
        "SELECT * FROM crawl_runs WHERE sources = ? AND finished_at IS NOT NULL ORDER BY id",
        f'["{source_id}"]',
    )


def state(db: Path, source_id: str) -> sqlite3.Row | None:
    rows = query(db, "SELECT * FROM source_state WHERE source = ?", source_id)
    return rows[0] if rows else None


def started_workers(log: Path) -> list[int]:
    return [int(pid) for pid in re.findall(r"worker (\d+) started", read(log))]


def read(log: Path) -> str:
    return log.read_text(encoding="utf-8") if log.exists() else ""


def test_one_worker_crawls_several_sources_while_a_stuck_one_waits(
    web: Mirror, tmp_path: Path
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, NEWS + DAILY + LISTED + STUCK)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    feed = web.hold(STUCK_FEED)  # the stuck crawl cannot end while the test holds its feed
    args = ("--workers", "1", "--max-crawls", "4", "--timeout", "10m")
    try:
        with running_daemon(seeds, db, log, *args) as daemon:
            wait_until(feed.arrived.is_set, "the stuck feed to be asked for")
            wait_until(
                lambda: all(len(finished_runs(db, s)) >= 3 for s in ("news", "daily", "listed")),
                "three polls of each healthy source",
            )
            # The stuck crawl is still waiting in the same worker: it held none of them back.
            assert not finished_runs(db, "stuck")
            feed.release()
            stderr = stop(daemon)
    finally:
        feed.release()
    logged = read(log)
    assert daemon.returncode == 0, stderr + logged
    assert not worker_pids(db)
    assert len(started_workers(log)) == 1, logged
    for healthy in ("news", "daily", "listed"):
        row = state(db, healthy)
        assert row is not None and row["last_success_at"] is not None, healthy
    assert query(db, "SELECT 1 FROM articles")
    assert_consistent(db)


def test_a_stuck_crawl_in_a_worker_is_ended_at_its_timeout_and_counted_as_failing(
    web: Mirror, tmp_path: Path
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, STUCK)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    feed = web.hold(STUCK_FEED)  # it never answers: only the timeout can end the crawl
    try:
        with running_daemon(seeds, db, log, "--workers", "1", "--timeout", "1s") as daemon:
            wait_until(lambda: finished_runs(db, "stuck"), "the stuck crawl to end")
            wait_until(lambda: state(db, "stuck"), "the stuck source's state")
            stderr = stop(daemon)
    finally:
        feed.release()
    assert daemon.returncode == 0, stderr + read(log)
    stuck = state(db, "stuck")
    assert stuck is not None and stuck["consecutive_failures"] >= 1
    assert stuck["last_error"], read(log)
    assert not worker_pids(db)


def test_a_worker_killed_mid_wave_loses_nothing_and_its_sources_are_polled_again(
    web: Mirror, tmp_path: Path
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, DAILY + NEWS)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    # Both crawls wait on held answers until the worker has been killed under them.
    news_feed = web.hold("https://news.example.com/feed.xml")
    pages = [web.hold(url) for url in SLOW_PAGES]
    gates = [news_feed, *pages]
    with running_daemon(seeds, db, log, "--workers", "1") as daemon:
        wait_until(
            lambda: (
                news_feed.arrived.is_set()
                and any(p.arrived.is_set() for p in pages)
                and len(query(db, "SELECT 1 FROM crawl_runs WHERE finished_at IS NULL")) == 2
            ),
            "both crawls running, each waiting on a held answer",
        )
        (worker,) = started_workers(log)
        os.killpg(worker, signal.SIGKILL)
        for gate in gates:
            gate.release()
        wait_until(
            lambda: (
                len(started_workers(log)) == 2
                and all(
                    (s := state(db, source_id)) is not None
                    and s["consecutive_failures"] == 0
                    and s["last_success_at"] is not None
                    for source_id in ("daily", "news")
                )
                and "ended mid-crawl" in read(log)
            ),
            "both sources polled successfully by a new worker",
        )
        stderr = stop(daemon)
    logged = read(log)
    assert daemon.returncode == 0, stderr + logged
    assert f"its worker (pid {worker}) ended mid-crawl: killed by signal 9" in logged
    # Both crawls were lost with the worker, and retried soon (not after a backoff).
    assert len(re.findall(r"crawl failed \(1 in a row\): its worker", logged)) == 2, logged
    # The related pages of daily are kept, each once: stored, or a sighting of news' copy.
    kept = {
        web.real_url(r["url"])
        for r in query(db, "SELECT url FROM articles UNION ALL SELECT url FROM duplicates")
    }
    assert {
        "https://daily.example.org/a/1001.html",
        "https://daily.example.org/a/1002.html",
    } <= kept
    assert_consistent(db)
    # The killed crawls say so: started, never finished.
    assert len(query(db, "SELECT 1 FROM crawl_runs WHERE finished_at IS NULL")) == 2


def test_workers_are_recycled_after_n_crawls(web: Mirror, tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, NEWS)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    args = ("--workers", "1", "--recycle-after", "2", "-v")
    with running_daemon(seeds, db, log, *args) as daemon:
        wait_until(lambda: len(finished_runs(db, "news")) >= 6, "six polls")
        stderr = stop(daemon)
    logged = read(log)
    assert daemon.returncode == 0, stderr + logged
    handed = re.findall(r"handing news to worker (\d+)", logged)
    per_worker = {pid: handed.count(pid) for pid in handed}
    assert len(per_worker) >= 3 and max(per_worker.values()) <= 2, per_worker
    assert set(map(int, per_worker)) <= set(started_workers(log))
    assert not worker_pids(db)


def test_max_crawls_caps_the_crawls_running_at_once(web: Mirror, tmp_path: Path) -> None:
    feeds = [
        ("news", "https://news.example.com/feed.xml"),
        ("daily", "https://daily.example.org/rss"),
        ("bad", "https://bad.example.com/feed.xml"),
        ("broken", "https://broken.example.com/feed"),
    ]
    seeds = write_seeds(tmp_path / "seeds", web, "".join(source(i, f) for i, f in feeds))
    # Every feed is held: a crawl that starts stays running until the test lets it answer.
    gates = [web.hold(feed) for _, feed in feeds]
    for _, feed in feeds:
        web.update_page(feed, conditional=False)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    most = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal most
        while not done.is_set():
            running = query(db, "SELECT 1 FROM crawl_runs WHERE finished_at IS NULL")
            most = max(most, len(running))
            done.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    args = ("--workers", "2", "--max-crawls", "2")
    with running_daemon(seeds, db, log, *args) as daemon:
        sampler.start()
        try:
            wait_until(
                lambda: sum(g.arrived.is_set() for g in gates) == 2 and most == 2,
                "two crawls running, each waiting on its held feed",
            )
            for gate in gates:
                gate.release()
            wait_until(
                lambda: all(len(finished_runs(db, i)) >= 2 for i, _ in feeds),
                "two polls of every source",
            )
        finally:
            done.set()
            sampler.join()
            for gate in gates:
                gate.release()
        stderr = stop(daemon)
    assert daemon.returncode == 0, stderr + read(log)
    # Four sources due every second, two held running: without the cap all four would have
    # started (and stayed running on their held feeds) before any was let go.
    assert most == 2


def test_a_daemon_killed_with_9_leaves_its_worker_to_finish_and_the_next_daemon_waits(
    web: Mirror, tmp_path: Path
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, DAILY)
    db, log = tmp_path / "f.db", tmp_path / "daemon.log"
    # The orphaned worker's crawl cannot finish before the second daemon has met its lock.
    pages = [web.hold(url) for url in SLOW_PAGES]
    try:
        with running_daemon(seeds, db, log, "--workers", "1") as first:
            wait_until(lambda: any(p.arrived.is_set() for p in pages), "a held page asked for")
            (orphan,) = worker_pids(db)
            first.kill()  # kill -9 the daemon alone: its worker's input ends
            first.communicate()
            with running_daemon(seeds, db, log, "--workers", "1") as second:
                wait_until(lambda: "an earlier crawl still runs" in read(log), "the lock")
                for page in pages:
                    page.release()
                # The orphaned worker finished its crawl, recorded its end, and left.
                wait_until(lambda: orphan not in worker_pids(db), "the orphaned worker to end")
                assert query(
                    db, "SELECT 1 FROM crawl_runs WHERE id = 1 AND finished_at IS NOT NULL"
                )
                wait_until(
                    lambda: len(finished_runs(db, "daily")) >= 2, "a crawl by the second daemon"
                )
                stderr = stop(second)
    finally:
        for page in pages:
            page.release()
    assert second.returncode == 0, stderr + read(log)
    assert_consistent(db)
    stored = {web.real_url(r["url"]) for r in query(db, "SELECT url FROM articles")}
    assert {
        "https://daily.example.org/a/1001.html",
        "https://daily.example.org/a/1002.html",
    } <= stored
