"""Faults of the database under a crawl and its readers: a full disk, a damaged file, crawls
started together on a new file, another program's file, a read-only file or directory
(issue 9, points 5 to 8). Each ends with one clear line and the right exit status."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from crawler.cli import cli
from crawler.config import load_seeds
from crawler.daemon import Daemon, DaemonOptions
from crawler.mirror import Mirror
from crawler.polling import read_run
from crawler.report import all_failed
from crawler.state import SourceState
from crawler.store import Store, StoreError
from tests.helpers import (
    FAST_SETTINGS,
    HEALTHY_SOURCES,
    TESTS,
    run_followup,
    setting_args,
    write_seeds,
)
from tests.inprocess import crawl_logged

# What a crawl of the healthy test web stores (tests/test_crawl.py explains each).
STORED = {
    "https://news.example.com/2026/11/20/pay.html",
    "https://news.example.com/2026/11/19/miit.html",
    "https://daily.example.org/a/1001.html",
    "https://list.example.net/news/2001.html",
    "https://list.example.net/news/1999.html",
}
DUPLICATES = {"https://daily.example.org/a/1002.html", "https://list.example.net/news/2002.html"}


def crawl_args(seeds: Path, db: Path) -> list[str]:
    return ["crawl", "--seeds", str(seeds), "--db", str(db), "--json", *setting_args()]


def run_on_full_disk(spare_pages: int, *args: str) -> subprocess.CompletedProcess[str]:
    """`followup …` whose database may grow by only spare_pages (tests/full_disk.py)."""
    return subprocess.run(
        [sys.executable, str(TESTS / "full_disk.py"), str(spare_pages), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def stored(web: Mirror, db_path: Path) -> tuple[set[str], set[str]]:
    with Database(db_path) as db:
        articles = {web.real_url(r["url"]) for r in db.query("SELECT url FROM articles")}
        duplicates = {web.real_url(r["url"]) for r in db.query("SELECT url FROM duplicates")}
    return articles, duplicates


def test_a_full_disk_fails_the_crawl_and_a_rerun_stores_everything_once(
    web: Mirror, tmp_path: Path
) -> None:
    seeds, db_path = write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES), tmp_path / "f.db"
    # Two pages: an article writes only its rows (its search index entries come later, batched).
    full = run_on_full_disk(2, *crawl_args(seeds, db_path))
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    message = f"the disk holding {db_path} is full"
    assert full.stderr.count(message) == 2  # the log line, and the CLI's last line
    assert full.stderr.splitlines()[-1].startswith(f"error: {message}")
    assert json.loads(full.stdout)["error"].startswith(message)
    # The daemon reads the child's exit and last error line: a failed run, saying why.
    report = read_run("news", full.returncode, full.stdout, full.stderr)
    assert not report.ok and report.error is not None and message in report.error
    partial, _ = stored(web, db_path)
    assert partial < STORED

    again, log = crawl_logged(seeds, db_path, settings=FAST_SETTINGS)  # the rerun, in process
    assert again.error is None and not all_failed(again.summary, list(again.summary)), log
    assert stored(web, db_path) == (STORED, DUPLICATES)


def damage(db_path: Path, *tables: str) -> None:
    """Overwrite every page of the named tables and indexes with garbage."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            rows = conn.execute("SELECT name, pageno FROM dbstat").fetchall()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find a table's pages with")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    pages = [page for name, page in rows if name in tables]
    assert pages
    with db_path.open("r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * page_size)
            handle.write(b"\xa5" * page_size)


def test_a_damaged_database_fails_crawl_export_and_search(
    crawled_copy: Path, web: Mirror, tmp_path: Path
) -> None:
    damage(crawled_copy, "seen", "sqlite_autoindex_seen_1", "articles")
    seeds = write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES)
    crawl = run_followup(*crawl_args(seeds, crawled_copy))
    assert crawl.returncode == 1, crawl.stderr
    assert "Traceback" not in crawl.stderr
    assert f"error: {crawled_copy} is damaged (database disk image is malformed)" in crawl.stderr
    assert "sqlite3" in crawl.stderr.splitlines()[-1]  # the way to recover it
    for args in (["export", "--format", "json"], ["search", "互联互通"], ["search", "阿里"]):
        result = CliRunner().invoke(cli, [*args, "--db", str(crawled_copy)])
        assert result.exit_code == 1, result.output
        assert f"{crawled_copy} is damaged" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


OPEN_STORE = """
import sys, time
from pathlib import Path
from crawler.store import Store
start = Path(sys.argv[2])
deadline = time.monotonic() + 120
while not start.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
Store.open(sys.argv[1]).close()
"""


def test_processes_opening_a_new_file_together_all_succeed(tmp_path: Path) -> None:
    db_path, start = tmp_path / "new.db", tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STORE, str(db_path), str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    try:
        start.touch()  # all of them waiting: they open the file at the same moment
        errors = [process.communicate(timeout=240)[1] for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()
    assert [process.returncode for process in processes] == [0] * 6, errors
    with Database(db_path) as db:
        applied = list(db.query("SELECT name FROM _sqlite_migrations"))
        assert len(applied) == len({row["name"] for row in applied})  # each applied once


def test_another_programs_database_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    before = path.read_bytes()
    result = CliRunner().invoke(cli, ["status", "--db", str(path)])
    assert result.exit_code == 2
    assert f"{path} is not a followup database (it holds notes)" in result.output
    with pytest.raises(StoreError, match="left unchanged"):
        Store.open(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no -wal, no -shm


@contextmanager
def unwritable(*paths: Path) -> Iterator[None]:
    """Make files or directories impossible to write, even for root (chattr +i)."""
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        undo = [lambda p=path: p.chmod(0o755 if p.is_dir() else 0o644) for path in paths]
    else:
        done = []
        try:
            for path in paths:
                result = subprocess.run(
                    ["chattr", "+i", str(path)], capture_output=True, check=False
                )
                if result.returncode != 0:
                    pytest.skip(f"chattr +i is not available here: {result.stderr!r}")
                done.append(path)
        except FileNotFoundError:
            pytest.skip("chattr is not installed (e2fsprogs): cannot make a file read-only as root")
        finally:
            undo = [lambda p=p: subprocess.run(["chattr", "-i", str(p)], check=True) for p in done]
    try:
        yield
    finally:
        for step in undo:
            step()


def test_a_read_only_database_is_refused_before_anything_is_written(
    crawled_copy: Path, web: Mirror, tmp_path: Path
) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES)
    files = sorted(p.name for p in crawled_copy.parent.iterdir())
    with unwritable(crawled_copy):
        crawl = CliRunner().invoke(cli, crawl_args(seeds, crawled_copy))
        daemon = CliRunner().invoke(
            cli, ["daemon", "--seeds", str(seeds), "--db", str(crawled_copy)]
        )
        export = CliRunner().invoke(cli, ["export", "--db", str(crawled_copy), "--format", "csv"])
        status = CliRunner().invoke(cli, ["status", "--db", str(crawled_copy)])
    assert status.exit_code == 0 and "no source polled" in status.output  # read, never written
    for result in (crawl, daemon):
        assert result.exit_code == 2, result.output
        assert f"cannot write {crawled_copy}" in result.output
    assert export.exit_code == 0 and "pay.html" in export.output
    assert sorted(p.name for p in crawled_copy.parent.iterdir()) == files  # no -wal, no lock


def test_a_database_on_a_read_only_directory_is_still_read(crawled_copy: Path) -> None:
    directory = crawled_copy.parent
    files = sorted(p.name for p in directory.iterdir())
    with Database(crawled_copy) as db:
        count = db.table("articles").count
    with unwritable(crawled_copy, directory):
        export = CliRunner().invoke(cli, ["export", "--db", str(crawled_copy), "--format", "csv"])
        search = CliRunner().invoke(cli, ["search", "互联互通", "--db", str(crawled_copy)])
        query = CliRunner().invoke(
            cli, ["query", "SELECT count(*) AS n FROM articles", "--db", str(crawled_copy)]
        )
    assert export.exit_code == 0, export.output
    assert "pay.html" in export.output
    assert search.exit_code == 0 and "互联互通" in search.output
    assert query.exit_code == 0 and query.output.splitlines()[-1] == str(count)
    assert sorted(p.name for p in directory.iterdir()) == files


def test_the_daemon_keeps_a_source_polled_when_its_state_cannot_be_saved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seeds = load_seeds(TESTS.parent / "seeds")
    daemon = Daemon(seeds, DaemonOptions(seeds_dir=seeds.directory, db_path=tmp_path / "f.db"))
    daemon.store = Store.open(tmp_path / "f.db")
    pages = daemon.store.db.execute("PRAGMA page_count").fetchone()[0]
    daemon.store.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
    source = seeds.sources[0]
    state = SourceState(source.id, source.every, last_error="x" * 20_000)  # needs new pages
    try:
        daemon._save(state)
    finally:
        daemon.store.close()
    assert daemon.states[source.id] == state  # polling goes on from the state in memory
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        f"{source.id}: its state was not saved: the disk holding {tmp_path / 'f.db'} is full "
        "(database or disk is full): free space, then run again (what was not stored is "
        "fetched again)"
    ]


def test_a_read_only_directory_with_an_unapplied_wal_is_read_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, directory = tmp_path / "live.db", tmp_path / "mount"
    directory.mkdir()
    writer = Store.open(source)
    writer.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the schema in the file itself
    writer.db.execute("PRAGMA wal_autocheckpoint = 0")  # what is written now stays in the -wal
    writer.start_run(["news"])
    for suffix in ("", "-wal"):  # copied as a backup of a running daemon would be
        shutil.copyfile(f"{source}{suffix}", directory / f"f.db{suffix}")
    writer.close()
    copy = directory / "f.db"
    assert (directory / "f.db-wal").stat().st_size > 0
    with unwritable(copy, directory), caplog.at_level(logging.WARNING, logger="crawler.coverage"):
        result = CliRunner().invoke(
            cli, ["query", "SELECT count(*) FROM crawl_runs", "--db", str(copy)]
        )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "0"  # the run in the -wal cannot be shown
    assert [r.getMessage() for r in caplog.records] == [
        f"{copy} is read-only and its -wal file cannot be applied: the latest changes it holds "
        "are not shown; copy both files somewhere writable to read them"
    ]
