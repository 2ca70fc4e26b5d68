"""Measurement 14: what each crawl and `followup status` read on a store of `--serve-articles`
articles (1M by default), each beside the code or the query before m013_scale.

The store is bench/serve.py's (built by SQL, shared with measurement 10), given a fingerprint per
article and a daemon's run history: POLLED sources polled every POLL_EVERY for HISTORY_DAYS (what
`--prune-after 90d` keeps), most polls answered 304, on top of serve's month of runs. Then:
- the recent-fingerprint window each crawl loads (a fresh `RecentFingerprints().refresh`), for a
  quiet store (QUIET articles fetched within the window) and the store as built (~30 days of
  articles), beside the query before m013_scale (its indexes dropped inside a transaction that is
  rolled back, so the planner cannot use them; ours inside a transaction too);
- the near-duplicate lookup (`NearDuplicateIndex.find_original`), median of LOOKUPS;
- `followup status` figures: `get_status` + `format_status` in a child of this tree and of
  BASELINE_REF's (`git archive`), the median of RUNS each, refusing the run when their output
  differs; and the whole installed command once;
- the same `followup crawl` of the mirror into an empty store and into a copy of this one, `runs`
  times each, interleaved: the medians' CPU per article.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from unittest import mock

from bench.context import BenchError, Context, followup_command, python, run_child
from bench.pipeline import check_crawl, followup_crawl
from bench.readers import baseline_checkout, median_time
from bench.report import Row, markdown_table, ratio, seconds
from bench.serve import large_store
from crawler import neardup
from crawler.dates import from_iso, to_iso, utcnow
from crawler.fingerprint import split_bands, to_signed
from crawler.health import record_verdicts
from crawler.neardup import NearDuplicateIndex, RecentFingerprints
from crawler.report import summarize
from crawler.rows import insert_row
from crawler.store import Store

# main at the start of this work (issue 16 point 5): the code every figure is set beside.
BASELINE_REF = "76e7786821aed6e1137dde2003b35b9b98e85e69"
# The recent-window read before m013_scale, and the indexes it could not use.
WINDOW_BEFORE = """SELECT f.id, f.article_id, f.value FROM fingerprints f
                   JOIN articles a ON a.id = f.article_id
                   WHERE f.id > ? AND a.fetched_at >= ? ORDER BY f.id DESC LIMIT ?"""
M013_INDEXES = ("articles_fetched_at", "fingerprints_article_id")
POLLED = 20
QUICK_POLLED = 2  # --quick
POLL_EVERY = timedelta(minutes=15)
HISTORY_DAYS = 90
NOT_MODIFIED_SHARE = 0.8  # polls answered 304 (bench 8: 160 of 200)
NEW_SHARE = 0.05  # polls that brought new entries
QUIET = 100
RUNS = 5
LOOKUPS = 1_000
TARGET_WINDOW = 0.05
TARGET_STATUS = 0.3
TARGET_LOOKUP = 0.001
STATUS_CHILD = """
import json, statistics, sys, time
from datetime import timedelta
tree, db_path, now, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, tree)
from crawler.dates import from_iso
from crawler.status import format_status, get_status
from crawler.store import open_readonly
db, moment = open_readonly(db_path), from_iso(now)
walls, cpus = [], []
for _ in range(runs):
    wall, cpu = time.perf_counter(), time.process_time()
    text = format_status(get_status(db, now=moment, max_failing=timedelta(hours=6)), now=moment)
    walls.append(time.perf_counter() - wall)
    cpus.append(time.process_time() - cpu)
print(json.dumps({"wall": statistics.median(walls), "cpu": statistics.median(cpus), "text": text}))
"""


def measure_scale(ctx: Context) -> list[Row]:
    size = ctx.options.serve_articles
    path = large_store(ctx, size)
    started = time.perf_counter()
    polls = prepare_store(
        path, seed=ctx.options.seed, polled=QUICK_POLLED if ctx.options.quick else POLLED
    )
    say(f"scale: fingerprints and {polls:,} polls added in {time.perf_counter() - started:.0f} s")
    rows = [*window_rows(path, size), lookup_row(path, size, seed=ctx.options.seed)]
    rows += status_rows(ctx, path, size, polls)
    rows += crawl_rows(ctx, path, size)
    ctx.sections.append(_details(size, polls, rows))
    return rows


def say(message: str) -> None:
    print(message, file=sys.stderr)


# The store ---------------------------------------------------------------------------------


def prepare_store(path: Path, *, seed: int, polled: int) -> int:
    """A fingerprint for every article, and `polled` sources' history; the number of polls."""
    store = Store.open(path)
    rng = random.Random(seed)
    try:
        with store.transaction():
            store.db.conn.executemany(
                "INSERT INTO fingerprints (article_id, value, b0, b1, b2, b3) VALUES (?, ?, ?, ?, ?, ?)",
                _fingerprints(store, rng),
            )
            polls = _poll_history(store, rng, polled)
        store.db.execute("ANALYZE")
    finally:
        store.close()
    return polls


def _fingerprints(store: Store, rng: random.Random) -> Iterator[tuple[int, ...]]:
    for (article_id,) in store.db.execute("SELECT id FROM articles ORDER BY id").fetchall():
        value = rng.getrandbits(64)
        yield (article_id, to_signed(value), *split_bands(value))


def _poll_history(store: Store, rng: random.Random, polled: int) -> int:
    """`polled` sources every POLL_EVERY for HISTORY_DAYS, as the daemon writes them."""
    now = utcnow()
    polls = int(timedelta(days=HISTORY_DAYS) / POLL_EVERY)
    count = 0
    for k in range(polls, 0, -1):
        started = to_iso(now - POLL_EVERY * k)
        for n in range(polled):
            source = f"polled{n:02d}"
            figures = summarize({}, [source])
            figures[source].update(_poll_figures(rng))
            stats = {"reason": "finished", "sources": figures}
            run_id = insert_row(
                store.db,
                "crawl_runs",
                {"started_at": started, "finished_at": started, "sources": json.dumps([source])}
                | {"stats": json.dumps(stats, sort_keys=True)},
            )
            record_verdicts(store.db, run_id, str(started), figures)
            count += 1
    for n in range(polled):
        store.db.execute(
            """INSERT OR REPLACE INTO source_state (source, interval_seconds, consecutive_failures,
                   last_run_at, last_success_at, next_run_at) VALUES (?, ?, 0, ?, ?, ?)""",
            [f"polled{n:02d}", POLL_EVERY.total_seconds(), to_iso(now), to_iso(now), to_iso(now)],
        )
    return count


def _poll_figures(rng: random.Random) -> dict[str, int]:
    if rng.random() < NOT_MODIFIED_SHARE:
        return {"lists_read": 1, "not_modified": 1}
    if rng.random() < NEW_SHARE / (1 - NOT_MODIFIED_SHARE):
        return {"lists_read": 1, "entries": 20, "already_seen": 18, "site_extracted": 2, "new": 1}
    return {"lists_read": 1, "entries": 20, "already_seen": 20}


@contextmanager
def read_as(store: Store, *, before_m013: bool) -> Iterator[None]:
    """One transaction for a block of reads, rolled back: with before_m013, without
    m013_scale's indexes (and the recent-window query before it). Both sides read the same
    way: inside a transaction SQLite takes no snapshot per statement."""
    store.db.execute("BEGIN IMMEDIATE")
    try:
        if not before_m013:
            yield
            return
        for index in M013_INDEXES:
            store.db.execute(f"DROP INDEX {index}")
        with mock.patch.object(neardup, "_window_query", old_window_query):
            yield
    finally:
        store.db.rollback()


def old_window_query(db: object, last_id: int, since: datetime, limit: int) -> tuple[str, list]:
    return WINDOW_BEFORE, [last_id, to_iso(since), limit]


# Crawl start: the recent window and the lookup ----------------------------------------------


def window_rows(path: Path, size: int) -> list[Row]:
    store = Store.open(path)
    try:
        (quiet_since,) = store.db.execute(
            "SELECT fetched_at FROM articles ORDER BY fetched_at DESC LIMIT 1 OFFSET ?", [QUIET]
        ).fetchone()
        cases = {
            f"quiet store ({QUIET} articles fetched in the window)": from_iso(quiet_since),
            "the store as built (30 days of articles in the window)": utcnow()
            - neardup.RECENT_WINDOW,
        }
        rows = []
        for name, since in cases.items():
            with read_as(store, before_m013=False):
                ours = median_time(partial(load_window, store, since))
            with read_as(store, before_m013=True):
                before = median_time(partial(load_window, store, since))
            rows.append(
                Row(
                    f"14. Recent-window load at crawl start, {size:,} articles, {name}",
                    seconds(ours),
                    f"{seconds(before)} (the query before m013_scale)",
                    ratio(ours / before),
                    ours <= TARGET_WINDOW,
                )
            )
        return rows
    finally:
        store.close()


def load_window(store: Store, since: datetime) -> None:
    """What a crawl does at its first lookup: load the window from the store."""
    RecentFingerprints().refresh(store.db, since=since)


def lookup_row(path: Path, size: int, *, seed: int) -> Row:
    rng = random.Random(seed)
    store = Store.open(path)
    try:
        stored = [
            row[0]
            for row in store.db.execute(
                "SELECT value FROM fingerprints ORDER BY random() LIMIT ?", [LOOKUPS // 2]
            )
        ]
        near = [(value & (2**64 - 1)) ^ (1 << rng.randrange(64)) for value in stored]
        values = near + [rng.getrandbits(64) for _ in range(LOOKUPS - len(near))]
        with read_as(store, before_m013=False):
            ours = _lookups(store, values)
        with read_as(store, before_m013=True):
            before = _lookups(store, values)
    finally:
        store.close()
    return Row(
        f"14. Near-duplicate lookup, {size:,} fingerprints (median of {LOOKUPS:,})",
        seconds(ours),
        f"{seconds(before)} (before m013_scale)",
        ratio(ours / before),
        ours <= TARGET_LOOKUP,
    )


def _lookups(store: Store, values: list[int]) -> float:
    index = NearDuplicateIndex(store.db)
    index.find_original(values[0], "")  # the window's first load is measured above
    times = []
    for value in values:
        started = time.perf_counter()
        index.find_original(value, "")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# Status -------------------------------------------------------------------------------------


def status_rows(ctx: Context, path: Path, size: int, polls: int) -> list[Row]:
    baseline = baseline_checkout(ctx.path("scale-baseline"), BASELINE_REF)
    if baseline is None:
        raise BenchError(f"this checkout has no commit {BASELINE_REF}: no baseline for status")
    now = to_iso(utcnow())
    ours, before = (_status_child(tree, path, str(now)) for tree in (Path.cwd(), baseline))
    if ours["text"] != before["text"]:
        raise BenchError(
            f"status differs from {BASELINE_REF[:7]}'s:\n{ours['text']}\n---\n{before['text']}"
        )
    command = run_child([followup_command(), "status", "--db", str(path)])
    if command.returncode not in (0, 1):
        raise BenchError(f"followup status exited {command.returncode}: {command.stderr[-500:]}")
    name = f"14. `followup status`, {size:,} articles, {polls:,} polls kept"
    return [
        *(
            Row(
                f"{name}: reading and formatting ({clock})",
                seconds(ours[key]),
                f"{seconds(before[key])} ({BASELINE_REF[:7]})",
                ratio(ours[key] / before[key]),
                ours[key] <= TARGET_STATUS,
            )
            for clock, key in (("wall", "wall"), ("CPU", "cpu"))
        ),
        Row(
            f"{name}: the whole command (start-up included), wall / CPU",
            f"{seconds(command.wall)} / {seconds(command.cpu)}",
            "—",
            "—",
            None,
        ),
    ]


def _status_child(tree: Path, path: Path, now: str) -> dict:
    child = run_child([python(), "-c", STATUS_CHILD, str(tree), str(path), now, str(RUNS)])
    if child.returncode:
        raise BenchError(f"status in {tree} failed: {child.stderr[-1000:]}")
    result: dict = json.loads(child.stdout)
    return result


# Crawl cost ---------------------------------------------------------------------------------


def crawl_rows(ctx: Context, path: Path, size: int) -> list[Row]:
    """The same crawl into an empty store and into the large one, `runs` times each, interleaved
    (so a change of load falls on both sides), each run into the large store on a fresh copy of
    it: into the store itself, the second run would find the mirror's articles already seen."""
    seeds = ctx.plan.write_seeds(ctx.path("seeds"), ctx.mirror)
    copy = ctx.path("scale-large.db")
    empty, full = [], []
    try:
        for _ in range(ctx.options.runs):
            ctx.mirror.hits.clear()
            empty.append(_checked_crawl(ctx, seeds, ctx.path("scale-empty.db")))
            copy_store(path, copy)
            ctx.mirror.hits.clear()
            full.append(_checked_crawl(ctx, seeds, copy, fresh=False))
    finally:
        remove_store(copy)
    articles = ctx.plan.articles
    ours, theirs = statistics.median(full), statistics.median(empty)
    ctx.sections.append(_crawl_section(articles, size, empty, full))
    return [
        Row(
            f"14. Crawl CPU per article of the mirror ({articles:,}), into a store of {size:,} "
            f"(median of {len(full)}, interleaved)",
            f"{ours / articles * 1000:.2f} ms",
            f"{theirs / articles * 1000:.2f} ms (into an empty store)",
            ratio(ours / theirs),
            ours <= theirs * 1.1,
        )
    ]


def _crawl_section(articles: int, size: int, empty: list[float], full: list[float]) -> str:
    runs = "; ".join(
        f"{e / articles * 1000:.2f} ms vs {f / articles * 1000:.2f} ms ({f / e:.2f}×)"
        for e, f in zip(empty, full, strict=True)
    )
    return (
        f"## 14. Crawl CPU per article, into an empty store vs a store of {size:,}\n\n"
        f"Each run, in order (empty store first, then a fresh copy of the large one, flushed to "
        f"disk): {runs}. The row gives the ratio of the medians.\n"
    )


def _checked_crawl(ctx: Context, seeds: Path, db: Path, *, fresh: bool = True) -> float:
    """The CPU seconds of a `followup crawl` of the whole mirror into db."""
    run = followup_crawl(ctx, seeds, db, fresh=fresh)
    check_crawl(ctx, run)
    return run.cpu


def copy_store(source: Path, target: Path) -> None:
    """target becomes an exact copy of the database at source (its WAL checkpointed first),
    written to disk before it is used."""
    conn = sqlite3.connect(source)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    remove_store(target)
    shutil.copyfile(source, target)
    flush_file(target)


def flush_file(path: Path) -> None:
    """Write a file's dirty pages to disk now. Otherwise the first checkpoint of the crawl
    into it (SQLite's fsync) writes the whole 2.5 GB copy back, and the kernel charges that
    to the crawl: 0.3-1 ms more CPU per article, from the copy, not the crawl."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _details(size: int, polls: int, rows: list[Row]) -> str:
    table = markdown_table(
        ["measurement", "followup", "before", "ratio"], [r.cells()[:4] for r in rows]
    )
    return (
        "## 14. A store of a million articles: what a crawl and `followup status` read\n\n"
        f"The store of measurement 10 ({size:,} articles built by SQL), with a fingerprint per "
        f"article and {polls:,} polls of {polls // (HISTORY_DAYS * 96)} sources every {POLL_EVERY.seconds // 60} minutes "
        f"over {HISTORY_DAYS} days ({NOT_MODIFIED_SHARE:.0%} answered 304), on top of serve's "
        "month of runs. Baselines: the query before m013_scale (its indexes dropped in a "
        f"rolled-back transaction) and `git archive {BASELINE_REF[:7]}` for status.\n\n{table}\n"
    )
