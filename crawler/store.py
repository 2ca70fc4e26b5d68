"""The SQLite store: articles, their topics, duplicates, seen URLs, crawl runs.

Written through sqlite-utils; the schema lives in `MIGRATIONS`. WAL is on so the daemon can
write while a user reads, and every write that belongs together happens in one transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from crawler.changes import Validators, content_hash
from crawler.dates import from_iso, to_iso, utcnow
from crawler.fingerprint import NEAR_DISTANCE, from_signed, hamming, split_bands, to_hex, to_signed
from crawler.model import Article
from crawler.search import enable_bigram_index, enable_search_index, register_search_functions
from crawler.sketch import SKETCH_CANDIDATES, SKETCH_DISTANCE, Sketch, is_contained_copy

# How a duplicate was recognised (`duplicates.method`): simhash distance, normalised title, or the
# second tier's containment of shingles.
Method = Literal["simhash", "title", "containment"]
Status = Literal["stored", "duplicate", "irrelevant", "blocked", "failed", "redirected"]
# Statuses after which a URL is never requested again.
FINAL_STATUSES: frozenset[str] = frozenset({"stored", "duplicate", "irrelevant"})
# Statuses that count as an attempt: the page is asked again later.
RETRIED_STATUSES: frozenset[str] = frozenset({"blocked", "failed", "redirected"})
# Blocked, redirected (off the site) and failed pages are retried on later crawls, RETRY_AFTER after the first failure,
# twice as long after each further one, until MAX_ATTEMPTS: a WAF page or an outage is
# usually temporary, and a lost article is worse than a few requests.
RETRY_AFTER = timedelta(hours=1)
MAX_ATTEMPTS = 6
BUSY_TIMEOUT_MS = 30_000
# Beyond the band index (3 bits), fingerprints and sketches are compared against recent ones only.
RECENT_WINDOW = timedelta(days=30)
# At NEAR_DISTANCE a distinct article falls that close with p ≈ 1.8e-8 per comparison
# (tests/neardup measurements): 5,000 comparisons keep a false merge below 1 in 10,000 articles.
RECENT_LIMIT = 5_000

MIGRATIONS = Migrations("followup")


class StoreError(RuntimeError):
    """A database file that cannot be opened or written."""


def describe_store_error(path: str | Path, exc: sqlite3.Error) -> str:
    """One line for a database that failed while in use: what happened and what to do."""
    message = str(exc)
    if "full" in message:
        return (
            f"the disk holding {path} is full ({message}): free space, then run again "
            "(what was not stored is fetched again)"
        )
    if "malformed" in message or "not a database" in message:
        return (
            f"{path} is damaged ({message}): restore it from a backup, or recover what it "
            f"holds with `sqlite3 {path} .recover | sqlite3 recovered.db`"
        )
    if "readonly" in message or "read-only" in message:
        return f"cannot write {path} ({message}): make it writable"
    return f"cannot use {path}: {message}"


class ForeignDatabase(StoreError):
    """A SQLite file that another program made: followup never changes it."""


def check_writable(path: Path) -> None:
    """Raise StoreError unless path can be created or written, with its -wal beside it.

    Tried before SQLite opens anything: SQLite would open a read-only file read-only, leave
    -wal and -shm files beside it and fail at the first write, deep inside a crawl.
    """
    directory = path.parent
    if not directory.is_dir():
        raise StoreError(f"cannot create {path}: directory {directory} does not exist")
    problem = write_problem(path) if path.exists() else None
    if problem:
        raise StoreError(
            f"cannot write {path}: {problem}; make it writable, or read it with "
            "`followup export`, `search` or `query`, which never write"
        )
    if not os.access(directory, os.W_OK):
        raise StoreError(
            f"cannot write in {directory} (SQLite keeps {path.name}-wal beside the database): "
            "make the directory writable, or pass --db with a file elsewhere"
        )


def write_problem(path: Path) -> str | None:
    """Why an existing file cannot be written, or None when it can.

    Asked with access(2), never by opening the file: closing a descriptor of a database file
    drops every POSIX lock this process holds on it, those of its open SQLite connections
    included, and then concurrent writers corrupt it. access(2) answers for root too on a
    chattr +i file (EPERM) and on a read-only mount (EROFS).
    """
    if os.access(path, os.W_OK):
        return None
    return "it is read-only (permissions, chattr +i or a read-only mount)"


def check_followup_database(db: Database, path: Path) -> None:
    """Raise ForeignDatabase for a file with tables but no followup schema, before any change."""
    tables = db.table_names()
    if not tables or MIGRATIONS.applied(db):
        return
    shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
    raise ForeignDatabase(
        f"{path} is not a followup database (it holds {shown}); it was left unchanged: "
        "pass --db with a new file or one followup made"
    )


def enable_wal(db: Database) -> None:
    """WAL mode, waiting for other processes that open a new file at the same moment (SQLite
    refuses the switch at once instead of waiting for its busy timeout)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def migrate(db: Database) -> None:
    """Apply pending migrations in one write transaction, taken at once: processes starting
    together on a new file wait for each other instead of creating the same tables twice."""
    register_search_functions(db)  # the search index's triggers call it on every article write
    if not MIGRATIONS.pending(db):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        MIGRATIONS.apply(db)  # pending again, inside the lock: another process may have won
    except BaseException:
        db.rollback()
        raise
    db.commit()


def execute_all(db: Database, statements: Iterable[str]) -> None:
    """Run schema statements one by one (inside the migration's transaction)."""
    for statement in statements:
        db.execute(statement)


@MIGRATIONS()
def m001_initial(db: Database) -> None:
    execute_all(db, INITIAL_SCHEMA)


INITIAL_SCHEMA = (
    """CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        title TEXT NOT NULL,
        author TEXT,
        published_at TEXT,
        fetched_at TEXT NOT NULL,
        text TEXT NOT NULL,
        simhash TEXT,
        title_key TEXT NOT NULL,
        baseline INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX articles_title_key ON articles(title_key)",
    "CREATE INDEX articles_published_at ON articles(published_at)",
    "CREATE INDEX articles_source ON articles(source)",
    """CREATE TABLE article_topics (
        article_id INTEGER NOT NULL REFERENCES articles(id),
        topic TEXT NOT NULL,
        matched TEXT NOT NULL,
        PRIMARY KEY (article_id, topic)
    )""",
    "CREATE INDEX article_topics_topic ON article_topics(topic)",
    """CREATE TABLE duplicates (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        title TEXT NOT NULL,
        duplicate_of INTEGER NOT NULL REFERENCES articles(id),
        distance INTEGER NOT NULL,
        method TEXT NOT NULL,
        published_at TEXT,
        seen_at TEXT NOT NULL
    )""",
    "CREATE INDEX duplicates_duplicate_of ON duplicates(duplicate_of)",
    # The near-duplicate index: a 64-bit simhash split into four 16-bit bands. Two values within
    # 3 bits share a band (pigeonhole), so one indexed OR-lookup finds every candidate.
    # `value` is the simhash as a signed 64-bit integer: SQLite has no unsigned INTEGER.
    """CREATE TABLE fingerprints (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        value INTEGER NOT NULL,
        b0 INTEGER NOT NULL,
        b1 INTEGER NOT NULL,
        b2 INTEGER NOT NULL,
        b3 INTEGER NOT NULL
    )""",
    "CREATE INDEX fingerprints_b0 ON fingerprints(b0)",
    "CREATE INDEX fingerprints_b1 ON fingerprints(b1)",
    "CREATE INDEX fingerprints_b2 ON fingerprints(b2)",
    "CREATE INDEX fingerprints_b3 ON fingerprints(b3)",
    """CREATE TABLE seen (
        url TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        detail TEXT
    )""",
    "CREATE INDEX seen_status ON seen(status)",
    """CREATE TABLE crawl_runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        sources TEXT NOT NULL,
        stats TEXT
    )""",
)


@MIGRATIONS()
def m002_search_index(db: Database) -> None:
    # Full-text search (crawler.search): FTS5 trigram over title and text, kept by triggers.
    # A SQLite without trigram gets no index (a warning); `followup search` then uses LIKE.
    enable_search_index(db)


# Migrations apply by name, in the order they are registered; each creates what it owns.
@MIGRATIONS()
def m003_monitoring(db: Database) -> None:
    """The daemon's per-source state, HTTP validators for conditional GET, article versions."""
    execute_all(db, MONITORING_SCHEMA)


MONITORING_SCHEMA = (
    # One row per source the daemon polls; written by the daemon after each run.
    """CREATE TABLE source_state (
        source TEXT PRIMARY KEY,
        interval_seconds REAL NOT NULL,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        failing_since TEXT,
        last_run_at TEXT,
        last_success_at TEXT,
        last_error TEXT,
        last_run_id INTEGER,
        next_run_at TEXT
    )""",
    # ETag / Last-Modified of feeds, lists and re-checked pages. `content_hash` is the hash of
    # the article a page gave (re-checks compare against it); NULL for feeds and lists.
    """CREATE TABLE http_validators (
        url TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        content_hash TEXT,
        saved_at TEXT NOT NULL
    )""",
    # Every earlier version of a stored article; `articles` holds the current one. A version
    # was fetched at `fetched_at` and replaced by a newer one at `replaced_at`.
    """CREATE TABLE article_versions (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        fetched_at TEXT NOT NULL,
        replaced_at TEXT NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        simhash TEXT
    )""",
    "CREATE INDEX article_versions_article_id ON article_versions(article_id)",
    "CREATE INDEX seen_last_seen ON seen(last_seen)",
)


@MIGRATIONS()
def m004_robots_txt(db: Database) -> None:
    """robots.txt bodies, so a poll within a day of the last one need not fetch them again."""
    execute_all(db, ROBOTS_SCHEMA)


ROBOTS_SCHEMA = (
    """CREATE TABLE robots_txt (
        url TEXT PRIMARY KEY,
        status INTEGER NOT NULL,
        body BLOB NOT NULL,
        fetched_at TEXT NOT NULL
    )""",
)


@MIGRATIONS()
def m006_neardup(db: Database) -> None:
    """The second tier of near-duplicate detection: shingle sketches and re-headlined titles."""
    execute_all(db, NEARDUP_SCHEMA)


NEARDUP_SCHEMA = (
    # crawler.sketch: the sampled 5-gram hashes of the text a fingerprint was computed from, so
    # a candidate's containment is measured without reading its text. NULL in rows written
    # before this migration (those candidates get no second tier).
    "ALTER TABLE fingerprints ADD COLUMN sketch BLOB",
    # The normalised title a `原标题：…` line names: a re-headlined copy is found by it.
    "ALTER TABLE articles ADD COLUMN original_title_key TEXT",
    "CREATE INDEX articles_original_title_key ON articles(original_title_key)",
)


@MIGRATIONS()
def m008_notifications(db: Database) -> None:
    """The notification outbox (crawler/notify), each target's last delivery, health sent."""
    execute_all(db, NOTIFY_SCHEMA)


NOTIFY_SCHEMA = (
    # One row per message owed to a target: a new article (kind 'article', written in the
    # transaction that stores it), a digest period ('digest'), a health change ('health').
    # `dedupe_key` makes each owed message one row however often it is planned.
    """CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        kind TEXT NOT NULL,
        dedupe_key TEXT NOT NULL,
        article_id INTEGER REFERENCES articles(id),
        period_start TEXT,
        period_end TEXT,
        event TEXT,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        sent_at TEXT,
        last_error TEXT,
        UNIQUE (target, dedupe_key)
    )""",
    "CREATE INDEX notifications_due ON notifications(status, next_attempt_at)",
    # Per target, as `followup status` shows it; the URL with its secrets masked.
    """CREATE TABLE notify_targets (
        target TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        last_success_at TEXT,
        last_failure_at TEXT,
        last_error TEXT
    )""",
    # The source problems each target was told have started (and not yet that they cleared).
    """CREATE TABLE notify_health (
        target TEXT NOT NULL,
        source TEXT NOT NULL,
        code TEXT NOT NULL,
        detail TEXT NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (target, source, code)
    )""",
)


# The Beijing day an article counts for: of its publication, else of its fetching. A stored
# time SQLite cannot read (older versions let year 9999 or free text in) counts as its
# fetching day, never NULL: the trigger must not refuse the article write it rides on.
ARTICLE_DAY = (
    "coalesce(date({row}.published_at, '+8 hours'), date({row}.fetched_at, '+8 hours'), '')"
)


def _count_day(row: str, change: int) -> str:
    """Trigger statements adding `change` to the day count of the `new` or `old` row."""
    day = ARTICLE_DAY.format(row=row)
    return f"""INSERT INTO article_days (day, source, articles) VALUES ({day}, {row}.source, {change})
        ON CONFLICT(day, source) DO UPDATE SET articles = articles + excluded.articles;
        DELETE FROM article_days WHERE day = {day} AND source = {row}.source AND articles = 0;"""


@MIGRATIONS()
def m009_serve(db: Database) -> None:
    """What the canned queries of `followup serve` need to answer at once on a large store."""
    execute_all(db, SERVE_SCHEMA)


SERVE_SCHEMA = (
    # Articles per Beijing day and source, kept by triggers, so `articles_per_day` reads a few
    # thousand rows instead of computing a date for every article (2.8 µs each: 3 s at 1M).
    """CREATE TABLE article_days (
        day TEXT NOT NULL,
        source TEXT NOT NULL,
        articles INTEGER NOT NULL,
        PRIMARY KEY (day, source)
    )""",
    f"""INSERT INTO article_days (day, source, articles)
        SELECT {ARTICLE_DAY.format(row="articles")}, source, count(*) FROM articles
        GROUP BY 1, 2""",
    f"""CREATE TRIGGER article_days_ai AFTER INSERT ON articles BEGIN
        {_count_day("new", 1)}
    END""",
    f"""CREATE TRIGGER article_days_ad AFTER DELETE ON articles BEGIN
        {_count_day("old", -1)}
    END""",
    f"""CREATE TRIGGER article_days_au AFTER UPDATE OF published_at, fetched_at, source
        ON articles BEGIN
        {_count_day("old", -1)}
        {_count_day("new", 1)}
    END""",
    # source_health and `followup status` read the crawl runs of the last 24 hours.
    "CREATE INDEX crawl_runs_started_at ON crawl_runs(started_at)",
)


@MIGRATIONS()
def m010_search(db: Database) -> None:
    """Two-character search: the bigram index (crawler.search), filled from the stored articles."""
    enable_bigram_index(db)


def select(db: Database, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
    """Rows of a read as dicts, straight from the cursor.

    sqlite-utils' `query` wraps every statement in a savepoint, three statements where one
    will do; the crawl's per-article lookups use this instead.
    """
    cursor = db.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return (dict(zip(names, row, strict=True)) for row in cursor)


SAVE_SEEN = """INSERT INTO seen (url, source, status, first_seen, last_seen, attempts, detail)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(url) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen,
      detail = excluded.detail, attempts = seen.attempts + excluded.attempts"""
# Unrelated articles' seen rows are written this many at a time.
SEEN_BATCH = 100


def _seen_row(url: str, source: str, status: Status, detail: str) -> list[Any]:
    now = to_iso(utcnow())
    return [url, source, status, now, now, int(status in RETRIED_STATUSES), detail or None]


@dataclass(frozen=True, slots=True)
class Original:
    """The stored article a new one duplicates, and how closely."""

    article_id: int
    url: str
    distance: int
    method: Method
    published_at: str | None = None
    baseline: bool = False

    def published_after(self, article: Article) -> bool:
        """True when the stored copy appeared later than `article` (both dates known)."""
        theirs = to_iso(article.published)
        return bool(self.published_at and theirs and theirs < self.published_at)


class RecentFingerprints:
    """Recent fingerprints in memory, refreshed from SQLite before each lookup.

    The band index only guarantees distance ≤ 3; reposts with edits sit further away, so
    they are compared, vectorised, against every fingerprint of the recent window. The
    window is reloaded from the database at start and topped up by id, so rows written by
    another process (the daemon crawls sources in parallel) are never missed.
    """

    def __init__(self) -> None:
        self.values = np.zeros(0, dtype=np.uint64)
        self.article_ids = np.zeros(0, dtype=np.int64)
        self.row_ids = np.zeros(0, dtype=np.int64)
        self.last_id = 0

    def refresh(self, db: Database, *, since: datetime, limit: int = RECENT_LIMIT) -> None:
        rows = list(
            select(
                db,
                """SELECT f.id, f.article_id, f.value FROM fingerprints f
                   JOIN articles a ON a.id = f.article_id
                   WHERE f.id > ? AND a.fetched_at >= ? ORDER BY f.id DESC LIMIT ?""",
                [self.last_id, to_iso(since), limit],
            )
        )
        if not rows:
            return
        self.last_id = max(self.last_id, rows[0]["id"])
        rows.reverse()
        values = np.array([from_signed(r["value"]) for r in rows], dtype=np.uint64)
        ids = np.array([r["article_id"] for r in rows], dtype=np.int64)
        row_ids = np.array([r["id"] for r in rows], dtype=np.int64)
        self.values = np.concatenate([self.values, values])[-limit:]
        self.article_ids = np.concatenate([self.article_ids, ids])[-limit:]
        self.row_ids = np.concatenate([self.row_ids, row_ids])[-limit:]

    def nearest(self, value: int) -> tuple[int, int] | None:
        """(article_id, distance) of the closest recent fingerprint, or None when empty."""
        if not len(self.values):
            return None
        distances = np.bitwise_count(self.values ^ np.uint64(value))
        best = int(np.argmin(distances))
        return int(self.article_ids[best]), int(distances[best])

    def within(self, value: int, low: int, high: int, *, limit: int) -> list[tuple[int, int]]:
        """(fingerprint row id, distance) of up to `limit` recent fingerprints low..high bits
        away, closest first."""
        distances = np.bitwise_count(self.values ^ np.uint64(value))
        (found,) = np.nonzero((distances >= low) & (distances <= high))
        closest = found[np.argsort(distances[found], kind="stable")[:limit]]
        return [(int(self.row_ids[i]), int(distances[i])) for i in closest]


class Store:
    """Reads and writes of one followup database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.recent = RecentFingerprints()
        self._pending_seen: list[list[Any]] = []

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating if needed) a database file, in WAL mode, migrated to the current schema.

        Nothing is changed in a file that is not a followup database, nor tried in one that
        cannot be written: StoreError says so first.
        """
        path = Path(path)
        check_writable(path)
        try:
            db = Database(path)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            check_followup_database(db, path)
            enable_wal(db)
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            migrate(db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use {path} as a followup database: {exc}") from exc
        return cls(db)

    @classmethod
    def memory(cls) -> Store:
        """A throw-away in-memory store (tests, benchmarks)."""
        db = Database(memory=True)
        migrate(db)
        return cls(db)

    def close(self) -> None:
        self.flush()
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so check-then-write is safe
        against another process doing the same."""
        self.flush()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.rollback()
            raise
        else:
            self.db.commit()

    # Reads ---------------------------------------------------------------------------------

    def get_seen(self, urls: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The seen row (status, attempts, last_seen…) of each URL that has one."""
        self.flush()
        return self._rows_by_url("seen", urls)

    def _rows_by_url(self, table: str, urls: Sequence[str]) -> dict[str, dict[str, Any]]:
        """url → row of a table keyed by url, for the URLs that have one (in chunks of 500:
        SQLite caps the parameters of one statement)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(urls), 500):
            chunk = list(urls[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for row in select(self.db, f"SELECT * FROM {table} WHERE url IN ({marks})", chunk):
                found[row["url"]] = row
        return found

    def get_known(self, urls: Sequence[str], *, now: datetime | None = None) -> set[str]:
        """URLs not to request now: final ones, and failures still waiting for their retry."""
        now = now or utcnow()
        return {url for url, row in self.get_seen(urls).items() if not _due(row, now)}

    def find_original(
        self,
        fingerprint: int | None,
        title_key: str,
        *,
        sketch: Sketch | None = None,
        original_title_key: str = "",
    ) -> Original | None:
        """The stored article this one near-duplicates, if any.

        With a fingerprint: band-index candidates (any age) and the recent window, within
        NEAR_DISTANCE bits; then, given the text's sketch, recent candidates up to
        SKETCH_DISTANCE bits whose shingles contain it or are contained in it; then a stored
        newsflash (no fingerprint) with the same title. Without a fingerprint (a newsflash):
        any article with the same title. A title is the article's own or the `原标题` it names.
        """
        keys = [key for key in dict.fromkeys((title_key, original_title_key)) if key]
        if fingerprint is None:
            return self._find_by_title(keys)
        best = self._nearest_by_bands(fingerprint)
        self.recent.refresh(self.db, since=utcnow() - RECENT_WINDOW)
        recent = self.recent.nearest(fingerprint)
        if recent and (best is None or recent[1] < best[1]):
            best = recent
        if best is not None and best[1] <= NEAR_DISTANCE:
            return self._original(best[0], best[1], "simhash")
        contained = self._find_by_containment(fingerprint, sketch) if sketch is not None else None
        return contained or self._find_by_title(keys, newsflash_only=True)

    def _original(self, article_id: int, distance: int, method: Method) -> Original:
        url, published_at, baseline = self.db.execute(
            "SELECT url, published_at, baseline FROM articles WHERE id = ?", [article_id]
        ).fetchone()
        return Original(article_id, url, distance, method, published_at, bool(baseline))

    def _find_by_containment(self, fingerprint: int, sketch: Sketch) -> Original | None:
        """The closest recent candidate past NEAR_DISTANCE whose sketch passes the second tier."""
        candidates = self.recent.within(
            fingerprint, NEAR_DISTANCE + 1, SKETCH_DISTANCE, limit=SKETCH_CANDIDATES
        )
        if not candidates:
            return None
        marks = ",".join("?" * len(candidates))
        stored = {
            row_id: (article_id, blob)
            for row_id, article_id, blob in self.db.execute(
                f"SELECT id, article_id, sketch FROM fingerprints WHERE id IN ({marks})",
                [row_id for row_id, _ in candidates],
            )
        }
        for row_id, distance in candidates:
            article_id, blob = stored.get(row_id, (0, None))
            if blob is not None and is_contained_copy(sketch, Sketch.from_bytes(blob)):
                return self._original(article_id, distance, "containment")
        return None

    def _nearest_by_bands(self, fingerprint: int) -> tuple[int, int] | None:
        rows = select(
            self.db,
            "SELECT article_id, value FROM fingerprints WHERE b0 = ? OR b1 = ? OR b2 = ? OR b3 = ?",
            list(split_bands(fingerprint)),
        )
        candidates = (
            (r["article_id"], hamming(fingerprint, from_signed(r["value"]))) for r in rows
        )
        return min(candidates, key=lambda c: c[1], default=None)

    def _find_by_title(
        self, keys: Sequence[str], *, newsflash_only: bool = False
    ) -> Original | None:
        """The first article whose title or `原标题` is one of `keys` (only those too short
        for a fingerprint, with newsflash_only)."""
        if not keys:
            return None
        marks = ",".join("?" * len(keys))
        row = self.db.execute(
            f"""SELECT id FROM articles
                WHERE (title_key IN ({marks}) OR original_title_key IN ({marks}))
                {"AND simhash IS NULL" if newsflash_only else ""}
                ORDER BY id LIMIT 1""",
            [*keys, *keys],
        ).fetchone()
        return self._original(row[0], 0, "title") if row else None

    # Writes (call inside `transaction()` when several belong together) -----------------------

    def save_seen(self, url: str, source: str, status: Status, *, detail: str = "") -> None:
        """Record what became of a URL, keeping when it was first seen; failures count attempts."""
        self.db.execute(SAVE_SEEN, _seen_row(url, source, status, detail))

    def save_seen_later(self, url: str, source: str, status: Status) -> None:
        """Record an outcome whose loss in a crash costs nothing but a second fetch (an
        unrelated article): written with others in one transaction, not a commit each."""
        self._pending_seen.append(_seen_row(url, source, status, ""))
        if len(self._pending_seen) >= SEEN_BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the outcomes save_seen_later holds (before any read or other write)."""
        if self._pending_seen:
            rows, self._pending_seen = self._pending_seen, []
            with self.db.atomic():
                self.db.conn.executemany(SAVE_SEEN, rows)

    def save_article(
        self,
        article: Article,
        *,
        source: str,
        title_key: str,
        fingerprint: int | None,
        topics: dict[str, list[str]],
        baseline: bool = False,
        sketch: Sketch | None = None,
        original_title_key: str = "",
    ) -> int:
        """Store a new article with its topics, fingerprint and seen row; returns its id."""
        cursor = self.db.execute(
            """INSERT INTO articles (url, source, title, author, published_at, fetched_at, text,
                                     simhash, title_key, baseline, original_title_key)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                article.url,
                source,
                article.title,
                article.author or None,
                to_iso(article.published),
                to_iso(utcnow()),
                article.text,
                to_hex(fingerprint) if fingerprint is not None else None,
                title_key,
                int(baseline),
                original_title_key or None,
            ],
        )
        article_id = int(cursor.lastrowid or 0)
        self._save_topics(article_id, topics)
        self._save_fingerprint(article_id, fingerprint, sketch)
        self.save_seen(article.url, source, "stored")
        return article_id

    def save_duplicate(
        self,
        article: Article,
        *,
        source: str,
        original: Original,
        fingerprint: int | None,
        sketch: Sketch | None = None,
    ) -> None:
        """Record a repost as a sighting of its original, with its seen row."""
        sighting = (article.url, source, article.title, to_iso(article.published))
        self._save_sighting(*sighting, original=original, seen_at=to_iso(utcnow()))
        # A repost's own fingerprint points at the original too: a copy of the copy is found.
        self._save_fingerprint(original.article_id, fingerprint, sketch)
        self.save_seen(article.url, source, "duplicate", detail=f"duplicate of {original.url}")

    def save_earlier_original(
        self,
        article: Article,
        *,
        source: str,
        original: Original,
        title_key: str,
        fingerprint: int | None,
        topics: dict[str, list[str]],
        sketch: Sketch | None = None,
        original_title_key: str = "",
    ) -> None:
        """Make an earlier-published copy the original and the stored one its sighting.

        Whichever copy was crawled first, the story's article is its first publication: the
        row keeps its id (so every sighting still points at it) and takes the earlier copy's
        content; the copy it held becomes a duplicate of it.
        """
        old = next(select(self.db, "SELECT * FROM articles WHERE id = ?", [original.article_id]))
        sighting = (old["url"], old["source"], old["title"], old["published_at"])
        self._save_sighting(*sighting, original=original, seen_at=old["fetched_at"])
        self.db.execute(
            """UPDATE articles SET url = ?, source = ?, title = ?, author = ?, published_at = ?,
                 fetched_at = ?, text = ?, simhash = ?, title_key = ?, original_title_key = ?
               WHERE id = ?""",
            [
                article.url,
                source,
                article.title,
                article.author or None,
                to_iso(article.published),
                to_iso(utcnow()),
                article.text,
                to_hex(fingerprint) if fingerprint is not None else old["simhash"],
                title_key,
                original_title_key or None,
                old["id"],
            ],
        )
        self._save_topics(old["id"], topics)
        self._save_fingerprint(old["id"], fingerprint, sketch)
        self.save_seen(article.url, source, "stored")
        self.save_seen(old["url"], old["source"], "duplicate", detail=f"duplicate of {article.url}")

    def _save_sighting(
        self,
        url: str,
        source: str,
        title: str,
        published_at: str | None,
        *,
        original: Original,
        seen_at: str | None,
    ) -> None:
        self.db.execute(
            """INSERT INTO duplicates (url, source, title, duplicate_of, distance, method,
                                       published_at, seen_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                url,
                source,
                title,
                original.article_id,
                original.distance,
                original.method,
                published_at,
                seen_at,
            ],
        )

    def _save_topics(self, article_id: int, topics: dict[str, list[str]]) -> None:
        """File an article under its topics with the terms it matched (replacing old terms)."""
        self.db.conn.executemany(
            """INSERT INTO article_topics (article_id, topic, matched) VALUES (?, ?, ?)
               ON CONFLICT(article_id, topic) DO UPDATE SET matched = excluded.matched""",
            [(article_id, t, json.dumps(terms, ensure_ascii=False)) for t, terms in topics.items()],
        )

    def _save_fingerprint(
        self, article_id: int, fingerprint: int | None, sketch: Sketch | None = None
    ) -> None:
        if fingerprint is None:
            return
        self.db.execute(
            """INSERT INTO fingerprints (article_id, value, b0, b1, b2, b3, sketch)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [
                article_id,
                to_signed(fingerprint),
                *split_bands(fingerprint),
                sketch.to_bytes() if sketch is not None else None,
            ],
        )

    # Crawl runs ----------------------------------------------------------------------------

    def start_run(self, sources: Iterable[str]) -> int:
        """Record the start of a crawl; returns the run id."""
        cursor = self.db.execute(
            "INSERT INTO crawl_runs (started_at, sources) VALUES (?, ?)",
            [to_iso(utcnow()), json.dumps(list(sources))],
        )
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, stats: dict[str, Any]) -> None:
        """Record the end of a crawl and its per-source figures."""
        self.db.execute(
            "UPDATE crawl_runs SET finished_at = ?, stats = ? WHERE id = ?",
            [to_iso(utcnow()), json.dumps(stats, ensure_ascii=False, sort_keys=True), run_id],
        )

    # Change monitoring: validators, revisions, recheck, pruning ------------------------------

    def get_validators(self, urls: Sequence[str]) -> dict[str, Validators]:
        """The stored validators of each URL that has them."""
        return {
            url: Validators(row["etag"], row["last_modified"], row["content_hash"])
            for url, row in self._rows_by_url("http_validators", urls).items()
        }

    def get_robots_txt(self, url: str, *, max_age: timedelta) -> bytes | None:
        """A robots.txt body fetched within max_age, or None."""
        row = self.db.execute(
            "SELECT body FROM robots_txt WHERE url = ? AND fetched_at >= ?",
            [url, to_iso(utcnow() - max_age)],
        ).fetchone()
        return bytes(row[0]) if row else None

    def save_robots_txt(self, url: str, status: int, body: bytes) -> None:
        """Keep a robots.txt as fetched now (a 404 too: it means everything is allowed)."""
        self.db.execute(
            "INSERT OR REPLACE INTO robots_txt (url, status, body, fetched_at) VALUES (?, ?, ?, ?)",
            [url, status, body, to_iso(utcnow())],
        )

    def save_validators(self, url: str, validators: Validators) -> None:
        """Remember how a URL's current version is identified (replacing what was there)."""
        self.db.execute(
            """INSERT INTO http_validators (url, etag, last_modified, content_hash, saved_at)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET etag = excluded.etag,
                 last_modified = excluded.last_modified, content_hash = excluded.content_hash,
                 saved_at = excluded.saved_at""",
            [
                url,
                validators.etag,
                validators.last_modified,
                validators.content_hash,
                to_iso(utcnow()),
            ],
        )

    def delete_validators(self, urls: Sequence[str]) -> None:
        """Forget validators, so the next request of these URLs is unconditional."""
        for start in range(0, len(urls), 500):
            chunk = list(urls[start : start + 500])
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM http_validators WHERE url IN ({marks})", chunk)

    def all_settled(self, urls: Sequence[str]) -> bool:
        """True when every URL has an outcome no later crawl changes: final, or given up.

        Only a list naming nothing but such URLs may be answered by a 304 next time; a pending
        retry would otherwise never be made.
        """
        seen = self.get_seen(urls)
        return all(url in seen and _settled(seen[url]) for url in urls)

    def get_stored_hashes(self, urls: Sequence[str], *, source: str) -> dict[str, str]:
        """Content hash of each URL stored as an article of `source` (the others are left out)."""
        found = {}
        for start in range(0, len(urls), 500):
            chunk = list(urls[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.db.query(
                f"SELECT url, title, text FROM articles WHERE source = ? AND url IN ({marks})",
                [source, *chunk],
            )
            for row in rows:
                found[row["url"]] = content_hash(row["title"], row["text"])
        return found

    def get_article(self, url: str) -> dict[str, Any] | None:
        """The stored article with this URL, or None."""
        return next(iter(self.db.query("SELECT * FROM articles WHERE url = ?", [url])), None)

    def iter_recheck(self, source: str, *, since: datetime) -> Iterator[dict[str, Any]]:
        """Articles of `source` published (or, without a date, fetched) since a time."""
        yield from self.db.query(
            """SELECT id, url, title, author, published_at FROM articles
               WHERE source = ? AND baseline = 0 AND coalesce(published_at, fetched_at) >= ?
               ORDER BY id""",
            [source, to_iso(since)],
        )

    def save_revision(
        self,
        current: dict[str, Any],
        article: Article,
        *,
        title_key: str,
        fingerprint: int | None,
        topics: dict[str, list[str]],
        sketch: Sketch | None = None,
    ) -> int:
        """Keep the current version of a stored article in article_versions, then replace it.

        The old fingerprint stays in the index next to the new one: a repost of either version
        is a duplicate. Returns the id of the version row.
        """
        now = to_iso(utcnow())
        previous = self.db.execute(
            "SELECT max(replaced_at) FROM article_versions WHERE article_id = ?", [current["id"]]
        ).fetchone()[0]
        cursor = self.db.execute(
            """INSERT INTO article_versions (article_id, fetched_at, replaced_at, title, text,
                                             simhash)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [
                current["id"],
                previous or current["fetched_at"],
                now,
                current["title"],
                current["text"],
                current["simhash"],
            ],
        )
        self.db.execute(
            "UPDATE articles SET title = ?, text = ?, simhash = ?, title_key = ? WHERE id = ?",
            [
                article.title,
                article.text,
                to_hex(fingerprint) if fingerprint is not None else None,
                title_key,
                current["id"],
            ],
        )
        self._save_topics(current["id"], topics)
        if fingerprint is not None and to_hex(fingerprint) != current["simhash"]:
            self._save_fingerprint(current["id"], fingerprint, sketch)
        return int(cursor.lastrowid or 0)

    def prune_seen(self, *, before: datetime) -> int:
        """Forget URLs last seen before a time, except those of stored articles and duplicates.

        Those rows must stay: without them a URL of `articles` or `duplicates` would be fetched
        again and stored a second time. Returns how many rows went.
        """
        cursor = self.db.execute(
            """DELETE FROM seen WHERE last_seen < ? AND status NOT IN ('stored', 'duplicate')
               AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.url = seen.url)
               AND NOT EXISTS (SELECT 1 FROM duplicates d WHERE d.url = seen.url)""",
            [to_iso(before)],
        )
        return cursor.rowcount

    def prune_validators(self, *, before: datetime) -> int:
        """Forget validators saved before a time (the next request is simply unconditional)."""
        cursor = self.db.execute("DELETE FROM http_validators WHERE saved_at < ?", [to_iso(before)])
        return cursor.rowcount


def _due(row: dict[str, Any], now: datetime) -> bool:
    """True when a seen URL should be requested again (a failure whose wait is over)."""
    if row["status"] in FINAL_STATUSES or row["attempts"] >= MAX_ATTEMPTS:
        return False
    wait = RETRY_AFTER * 2 ** max(row["attempts"] - 1, 0)
    return from_iso(row["last_seen"]) + wait <= now


def _settled(row: dict[str, Any]) -> bool:
    return row["status"] in FINAL_STATUSES or row["attempts"] >= MAX_ATTEMPTS
