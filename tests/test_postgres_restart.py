"""A PostgreSQL server that restarts under the daemon (README "The daemon on PostgreSQL").

In process, on the session's server: which failures the daemon's own session retries on a new
one (a session the server ended: pg_terminate_backend ends it with admin_shutdown, exactly as
`pg_ctl stop -m fast` does) and which it never does (a statement's own error, a transaction
cut in half); advisory locks lost with their session, and the daemon's lock taken again.

End to end, on a cluster of the test's own (the session's is shared by other tests): a real
`followup daemon` whose server is stopped mid-crawl and started again on the same port.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from crawler.config import load_seeds
from crawler.daemon import Daemon, DaemonOptions
from crawler.locks import PgLock, open_locks
from crawler.mirror import Mirror
from crawler.notify.targets import Target
from crawler.postgres import PgDatabase, PostgresError, connect, is_session_lost
from crawler.state import SourceState
from crawler.store import Store
from tests.helpers import (
    TESTS,
    WAIT_CEILING,
    reaped,
    refused_port,
    run_followup,
    wait_until,
    write_seeds,
)
from tests.hostile import RECENT, add_article, add_feed, rss
from tests.pg import create_database, pg_rows, pg_url  # noqa: F401 (a fixture)
from tests.services import postgres, restartable_postgres  # noqa: F401 (a fixture)
from tests.test_daemon import logged
from tests.test_postgres_daemon import advisory_locks, assert_readme_log, start_daemon, stop

WIRE = """
[[source]]
id = "wire"
site = "generic"
feeds = ["{https://wire.example.com/feed.xml}"]
every = "1s"
min_every = "1s"
max_every = "2s"
"""
FEED = "https://wire.example.com/feed.xml"
LOST = "terminating connection due to administrator command"
STATE = "SELECT consecutive_failures, last_success_at FROM source_state"


def story_url(number: int) -> str:
    return f"https://wire.example.com/{number}.html"


def publish(web: Mirror, *numbers: int) -> None:
    """The wire's feed lists these stories (on topic, each its own text), newest last."""
    for number in numbers:
        add_article(web, story_url(number), f"阿里腾讯互联互通进展之{number}", seed=number)
    items = [(f"阿里腾讯互联互通进展之{n}", story_url(n), RECENT) for n in numbers]
    add_feed(web, FEED, rss("https://wire.example.com/", items).encode("utf-8"))


def lost_for_good(url: str, *, now_at: str) -> PgDatabase:
    """The daemon's session of url, lost, its server now at now_at and refusing connections."""
    db = PgDatabase(connect(url).connection, now_at, reopen=lambda: connect(now_at).connection)
    db.reconnects = True
    db.close()
    return db


def stored_urls(url: str) -> list[str]:
    """The wire's stored stories (the topic's seed is stored too, as known coverage)."""
    rows = pg_rows(url, "SELECT url FROM articles WHERE source = 'wire' ORDER BY id")
    return [row[0] for row in rows]


def backend(db: PgDatabase) -> int:
    """The server process of the session (a new one after a reconnect)."""
    return int(db.execute("SELECT pg_backend_pid()").fetchone()[0])


def end_session(url: str, pid: int) -> None:
    """What a restart does to each session (admin_shutdown), to one session, and waited for."""
    pg_rows(url, "SELECT pg_terminate_backend(%s)", pid)
    wait_until(
        lambda: not pg_rows(url, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", pid),
        f"session {pid} to end",
    )


@pytest.fixture
def daemon_session(pg_url: str) -> Iterator[PgDatabase]:  # noqa: F811
    """A session that reconnects, as the daemon's own, with a table to write."""
    db = connect(pg_url)
    db.reconnects = True
    db.execute("CREATE TABLE t (x int)")
    try:
        yield db
    finally:
        db.close()


# Which failures a new session retries -------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "closed", "lost"),
    [
        (psycopg.errors.AdminShutdown("terminating connection"), False, True),  # pg_ctl stop
        (psycopg.errors.CrashShutdown("another server process crashed"), False, True),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), False, True),
        (psycopg.errors.ConnectionFailure("connection failure"), False, True),  # class 08
        (psycopg.OperationalError("server closed the connection unexpectedly"), True, True),
        (psycopg.OperationalError("consuming input failed"), False, False),
        (
            psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
            False,
            False,
        ),
        (psycopg.errors.LockNotAvailable("could not obtain lock"), False, False),
        (psycopg.errors.DivisionByZero("division by zero"), False, False),
        (psycopg.errors.UniqueViolation("duplicate key"), True, False),  # not an OperationalError
    ],
)
def test_only_a_session_that_is_gone_counts_as_lost(
    error: psycopg.Error, closed: bool, lost: bool
) -> None:
    assert is_session_lost(error, closed=closed) is lost


def test_the_daemons_session_runs_a_statement_again_on_a_new_session_once(
    daemon_session: PgDatabase,
    pg_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = backend(daemon_session)
    end_session(pg_url, first)
    with caplog.at_level(logging.INFO, logger="crawler.postgres"):
        daemon_session.execute("INSERT INTO t VALUES (1)")
    assert backend(daemon_session) != first
    assert pg_rows(pg_url, "SELECT x FROM t") == [(1,)]  # once
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"{pg_url}: its session was lost (") and LOST in line
    assert line.endswith("); reconnected")


def test_a_session_that_does_not_reconnect_fails_in_one_line(
    pg_url: str,  # noqa: F811
) -> None:
    """A crawl's session (its source's lock died with the old one) and a lock's never do."""
    db = connect(pg_url)
    try:
        end_session(pg_url, backend(db))
        with pytest.raises(PostgresError, match=LOST) as raised:
            db.execute("SELECT 1")
        assert "\n" not in str(raised.value)
    finally:
        db.close()


def test_a_statements_own_error_is_never_retried(
    daemon_session: PgDatabase,
    pg_url: str,  # noqa: F811
) -> None:
    first = backend(daemon_session)
    daemon_session.execute("SET statement_timeout = '50ms'")
    with pytest.raises(PostgresError, match="statement timeout"):
        daemon_session.execute("SELECT pg_sleep(60)")  # an OperationalError, not a lost session
    with pytest.raises(PostgresError, match="division by zero"):
        daemon_session.execute("INSERT INTO t VALUES (1 / 0)")
    assert backend(daemon_session) == first  # the same session: nothing was run again


def test_a_transaction_cut_by_a_lost_session_fails_and_the_next_statement_reconnects(
    daemon_session: PgDatabase,
    pg_url: str,  # noqa: F811
) -> None:
    with pytest.raises(PostgresError, match=LOST), daemon_session.atomic():
        daemon_session.execute("INSERT INTO t VALUES (1)")
        end_session(pg_url, backend(daemon_session))
        daemon_session.execute("INSERT INTO t VALUES (2)")  # never run alone on a new session
    assert pg_rows(pg_url, "SELECT x FROM t") == []
    daemon_session.execute("INSERT INTO t VALUES (3)")  # the next operation: a new session
    assert pg_rows(pg_url, "SELECT x FROM t") == [(3,)]


def test_a_commit_after_the_session_was_lost_is_never_reported_as_done(
    daemon_session: PgDatabase,
    pg_url: str,  # noqa: F811
) -> None:
    daemon_session.execute("BEGIN IMMEDIATE")  # the store's write transaction, under its lock
    daemon_session.execute("INSERT INTO t VALUES (1)")
    end_session(pg_url, backend(daemon_session))
    with pytest.raises(PostgresError, match=LOST):
        daemon_session.commit()
    assert pg_rows(pg_url, "SELECT x FROM t") == []
    assert [row["x"] for row in daemon_session.query("SELECT count(*) AS x FROM t")] == [0]


# Locks lost with their session -----------------------------------------------------------


def test_a_source_lock_whose_session_ended_is_no_longer_held_and_can_be_taken_again(
    pg_url: str,  # noqa: F811
) -> None:
    mine, other = open_locks(pg_url), open_locks(pg_url)
    lock = mine.take_source("news")
    assert isinstance(lock, PgLock) and lock.held()
    assert other.take_source("news") is None
    end_session(pg_url, backend(lock.db))
    assert not lock.held()
    again = mine.take_source("news")  # before the next crawl: taken anew, on a new session
    assert again is not None and again.held()
    assert other.take_source("news") is None  # and held again
    lock.release()  # the lost one: nothing to undo
    again.release()
    assert advisory_locks(pg_url) == []


def test_the_daemon_takes_its_lock_again_or_ends_when_another_daemon_took_it(
    pg_url: str,  # noqa: F811
) -> None:
    seeds = load_seeds(TESTS.parent / "seeds")
    daemon = Daemon(seeds, DaemonOptions(seeds_dir=seeds.directory, db_path=pg_url))
    other = open_locks(pg_url)
    lock = daemon.locks.take_daemon(daemon.scope)
    assert isinstance(lock, PgLock)
    daemon.daemon_lock = lock
    taken = None
    try:
        end_session(pg_url, backend(lock.db))  # the server restarted
        assert asyncio.run(daemon._keep_daemon_lock())
        assert daemon.daemon_lock is not lock and daemon.daemon_lock.held()
        assert other.take_daemon(daemon.scope) is None  # held again
        assert isinstance(daemon.daemon_lock, PgLock)
        end_session(pg_url, backend(daemon.daemon_lock.db))
        taken = other.take_daemon(daemon.scope)  # another daemon of these seeds got there first
        assert taken is not None
        assert not asyncio.run(daemon._keep_daemon_lock())
        assert daemon.stopping.is_set()
        assert re.fullmatch(
            r"another followup daemon \(pid \d+ on .+\) is polling "
            + re.escape(pg_url)
            + "; stop it first, or use another --db",
            str(daemon.ended_by),
        )
    finally:
        daemon.daemon_lock.release()
        if taken is not None:
            taken.release()
    assert advisory_locks(pg_url) == []


def test_an_unreachable_store_is_logged_once_for_every_failure_of_the_outage(
    pg_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Source states, notifications: one line when the outage begins, no traceback, and one
    when the store answers again (each poll's failed crawl says the rest)."""
    seeds = load_seeds(TESTS.parent / "seeds")
    with refused_port() as port:
        nobody = f"postgresql://followup@127.0.0.1:{port}/followup"
        desk = Target("desk", "json://127.0.0.1/", "json://127.0.0.1/")
        options = DaemonOptions(seeds_dir=seeds.directory, db_path=nobody, notify=(desk,))
        daemon = Daemon(seeds, options)
        daemon.store = Store(lost_for_good(pg_url, now_at=nobody))  # type: ignore[arg-type]
        with caplog.at_level(logging.DEBUG, logger="crawler.daemon"):
            for source in seeds.sources[:2]:
                daemon._save(SourceState(source.id, source.every))
            daemon._notify_round()
            daemon._notify_round()
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1 and not any(r.exc_info for r in caplog.records), loud
    assert loud[0].startswith(f"{seeds.sources[0].id}: its state was not saved: {nobody} failed")
    assert loud[0].endswith("states are saved once the server answers")
    quiet = [r for r in caplog.records if r.name == "crawler.daemon" and r.levelno < logging.INFO]
    assert len(quiet) == 3, [r.getMessage() for r in quiet]  # the second save, two rounds


def test_a_daemon_whose_lock_another_daemon_took_meanwhile_says_so_and_exits(
    web: Mirror,
    tmp_path: Path,
    pg_url: str,  # noqa: F811
) -> None:
    """Its lock's session ended (as a restart ends it), and a second daemon of the same seeds
    started in that moment: the first sees so before its next poll, and exits as a second
    daemon would have been refused."""
    publish(web, 1)
    seeds = write_seeds(tmp_path / "seeds", web, WIRE)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with reaped(start_daemon(seeds, pg_url, first_log)) as first:
        wait_until(lambda: len(stored_urls(pg_url)) == 1, "the first daemon's crawl")
        gate = web.hold(story_url(2))  # no poll (nor look at its lock) while this crawl waits
        try:
            publish(web, 1, 2)
            wait_until(gate.arrived.is_set, "the first daemon's next crawl")
            (session,) = pg_rows(
                pg_url,
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                f"followup daemon pid {first.pid} on {os.uname().nodename}",
            )
            end_session(pg_url, session[0])
            with reaped(start_daemon(seeds, pg_url, second_log)) as second:
                wait_until(lambda: "followup daemon (pid" in logged(second_log), "the second")
                gate.release()  # the first's crawl ends; its next poll looks at its lock
                _, stderr = first.communicate(timeout=WAIT_CEILING)
                stop(second, second_log)
        finally:
            gate.release()
    refusal = (
        f"another followup daemon (pid {second.pid} on {os.uname().nodename}) is polling "
        f"{pg_url}; stop it first, or use another --db"
    )
    assert first.returncode == 2, stderr
    assert refusal in stderr and stderr.count("\n") == 1, stderr
    assert logged(first_log).count(refusal) == 1
    assert "Traceback" not in logged(first_log)
    assert advisory_locks(pg_url) == []


# A real daemon, its server restarted ---------------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "0"])  # crawls in a worker, or child processes
def test_a_daemon_rides_through_a_server_restart_and_resumes_storing(
    web: Mirror, tmp_path: Path, workers: str
) -> None:
    publish(web, 1)
    seeds = write_seeds(tmp_path / "seeds", web, WIRE)
    log = tmp_path / "daemon.log"
    with restartable_postgres() as cluster:
        url = create_database(cluster.server)
        with reaped(start_daemon(seeds, url, log, "--workers", workers)) as daemon:
            wait_until(lambda: len(stored_urls(url)) == 1, "the first story stored")
            gate = web.hold(story_url(2))
            try:
                publish(web, 1, 2)
                wait_until(gate.arrived.is_set, "a crawl to wait on the second story")
                cluster.stop()  # mid-crawl: that crawl's sessions (and its lock) end
                down = len(logged(log))
            finally:
                gate.release()
            wait_until(lambda: outage_polls(logged(log)[down:]) >= 3, "three polls while down")
            assert daemon.poll() is None, logged(log)  # still running
            cluster.start()  # on the same port
            up = len(logged(log))
            publish(web, 1, 2, 3)  # a story published after the restart
            wait_until(lambda: len(stored_urls(url)) == 3, "the stories stored after it")
            # The state kept in memory meanwhile is saved again, its failures over (the row still
            # holds the success before the outage: no save got through while it lasted).
            ((_, success_before),) = pg_rows(url, STATE)
            wait_until(
                lambda: any(row[1] != success_before for row in pg_rows(url, STATE) if row[0] == 0),
                "a new success saved",
            )
            stop(daemon, log)
        text = logged(log)
        assert_one_line_per_poll_while_down(text[down:up])
        assert advisory_locks(url) == []  # the lost locks and the new ones all went
        stored = stored_urls(url)
        status = run_followup("status", "--db", url)
    assert "Traceback" not in text
    after = text[up:]
    assert re.search(r"its session was lost \(.*\); reconnected", after), after
    assert "the daemon lock was lost with its session; taken again" in after
    assert f"{url} answers again" in after
    assert sorted(stored) == sorted(web.url_for(story_url(n)) for n in (1, 2, 3))  # each once
    assert status.returncode == 0, status.stderr
    assert "wire" in status.stdout
    if workers == "1":  # the README shows the default: crawls in workers
        assert_readme_log(text, "#### When the server restarts")


def outage_polls(text: str) -> int:
    return len(re.findall(r"WARNING crawler\.daemon: wire: crawl failed \(\d+ in a row\)", text))


def assert_one_line_per_poll_while_down(text: str) -> None:
    """Each poll while the server was down logged one line (its failed crawl, naming the store
    and when it tries again); the store's own failure once, not once per poll."""
    loud = [line for line in text.splitlines() if re.search(r" (WARNING|ERROR) ", line)]
    crawls = [line for line in loud if " wire: crawl failed (" in line]
    others = [line for line in loud if line not in crawls]
    assert len(crawls) >= 3, loud
    counts = [int(re.search(r"\((\d+) in a row\)", line)[1]) for line in crawls]  # type: ignore[index]
    assert counts == list(range(counts[0], counts[0] + len(counts))), loud  # one per poll
    assert all("postgresql://" in line and "; next try in " in line for line in crawls), loud
    assert len(others) == 1 and "its state was not saved" in others[0], loud
    assert "polling goes on" in others[0]
