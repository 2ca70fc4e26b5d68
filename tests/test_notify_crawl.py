"""The installed `followup crawl` and `followup daemon` delivering notifications, for real.

A crawl of the local web (tests/web) finds 4 new related articles, 2 reposts and 1 topic
seed: exactly 4 messages are owed. A crawl killed with -9 after storing them, before it
could send, loses none: the next run delivers each once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from crawler.mirror import Mirror
from crawler.notify.sender import sender_lock
from tests.helpers import (
    HEALTHY_SOURCES,
    WAIT_CEILING,
    run_followup,
    setting_args,
    wait_until,
    write_seeds,
)
from tests.notify_receivers import Webhook, readme_blocks, row_ids

WAIT_CEILING_DELTA = timedelta(seconds=WAIT_CEILING)

NEW_ARTICLES = {
    "https://news.example.com/2026/11/20/pay.html",
    "https://news.example.com/2026/11/19/miit.html",
    "https://daily.example.org/a/1001.html",
    "https://list.example.net/news/2001.html",
}


# Polled at once (jitter is a share of the interval); later polls find nothing new.
EVERY_SECOND = '[[source]]\nevery = "1s"\nmin_every = "1s"\nmax_every = "1h"'


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with Webhook() as receiver:
        yield receiver


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db, timeout=30)) as connection:
        return connection.execute(sql).fetchall()


def crawl_finished(db: Path) -> bool:
    """True once a crawl has recorded its end (its articles and their rows are committed)."""
    if not db.exists() or not query(db, "SELECT 1 FROM sqlite_master WHERE name = 'crawl_runs'"):
        return False  # the crawl is still creating the database
    return bool(query(db, "SELECT 1 FROM crawl_runs WHERE finished_at IS NOT NULL"))


def start(*args: str) -> subprocess.Popen[str]:
    command = Path(sys.executable).with_name("followup")
    return subprocess.Popen(
        [str(command), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def reap(process: subprocess.Popen[str], signum: signal.Signals = signal.SIGKILL) -> str:
    """End a process (its whole session) if it still runs, and collect its stderr."""
    if process.poll() is None:
        os.killpg(process.pid, signum)
    try:
        _, stderr = process.communicate(timeout=WAIT_CEILING)
    except subprocess.TimeoutExpired:  # never left running, nor unreaped
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return stderr


def test_a_crawl_killed_between_store_and_send_loses_nothing_and_sends_nothing_twice(
    web: Mirror, webhook: Webhook, tmp_path: Path
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES)
    (seeds / "notify.toml").write_text(
        f'[[notify]]\nid = "desk"\nurl = "{webhook.url()}"\nevents = ["new"]\n'
    )
    db = tmp_path / "followup.db"
    crawl = ["crawl", "--seeds", str(seeds), "--db", str(db), *setting_args()]

    # Another sender holds the lock: the crawl stores, then waits to send; it is killed there.
    with sender_lock(db, wait=WAIT_CEILING_DELTA):
        process = start(*crawl)
        try:
            wait_until(lambda: crawl_finished(db), "the crawl to store its articles")
        finally:
            reap(process)
        assert process.returncode == -signal.SIGKILL
    assert webhook.requests == []
    owed = query(
        db, "SELECT n.id, a.url FROM notifications n JOIN articles a ON a.id = n.article_id"
    )
    assert {web.real_url(url) for _, url in owed} == NEW_ARTICLES  # none for reposts or the seed
    assert query(db, "SELECT DISTINCT status FROM notifications") == [("pending",)]

    # The next crawl finds nothing new and delivers what the killed one owed, once each.
    again = run_followup(*crawl)
    assert again.returncode == 0, again.stderr
    assert "notify: 4 sent" in again.stderr
    delivered = webhook.delivered
    assert len(webhook.requests) == len(delivered) == 4
    assert {web.real_url(m["message"].splitlines()[1]) for m in delivered} == NEW_ARTICLES
    assert sorted(i for m in delivered for i in row_ids(m["message"])) == sorted(i for i, _ in owed)
    assert query(db, "SELECT DISTINCT status FROM notifications") == [("sent",)]

    # The README shows the first of them, as received.
    (shown,) = readme_blocks("json")
    pay = next(m for m in delivered if m["message"].splitlines()[1].endswith("/pay.html"))
    local = pay["message"].splitlines()[1]
    pay["message"] = re.sub(r"#\d+$", "#1", pay["message"].replace(local, web.real_url(local)))
    assert pay == json.loads(shown)


def test_the_daemon_sends_after_each_poll(web: Mirror, webhook: Webhook, tmp_path: Path) -> None:
    seeds = write_seeds(
        tmp_path / "seeds", web, HEALTHY_SOURCES.replace("[[source]]", EVERY_SECOND)
    )
    (seeds / "notify.toml").write_text(f'[[notify]]\nid = "desk"\nurl = "{webhook.url()}"\n')
    db = tmp_path / "followup.db"
    daemon = start("daemon", "--seeds", str(seeds), "--db", str(db), *setting_args())
    try:
        # Topic seeds are crawled by `followup crawl` only: the daemon's polls find the 4.
        wait_until(lambda: len(webhook.requests) >= 4, "the daemon to send 4 messages")
    finally:
        stderr = reap(daemon, signal.SIGTERM)
    assert daemon.returncode == 0, stderr
    assert len(webhook.requests) == len(webhook.delivered) == 4
    assert {web.real_url(m["message"].splitlines()[1]) for m in webhook.delivered} == NEW_ARTICLES
    # Sent by the daemon itself (its crawls only queue), each message in one round.
    assert sum(int(n) for n in re.findall(r"crawler.daemon: notify: (\d+) sent", stderr)) == 4
