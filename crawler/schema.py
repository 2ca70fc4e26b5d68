"""The followup schema: sqlite-utils Migrations, applied by name in the order registered, each
creating what it owns. Only this module changes the schema."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from crawler.health import record_verdicts
from crawler.search import register_search_functions, replace_search_indexes

MIGRATIONS = Migrations("followup")


def migrate(db: Database) -> None:
    """Apply pending migrations in one write transaction, taken at once: processes starting
    together on a new file wait for each other instead of creating the same tables twice."""
    # A store that ran m010_search has triggers calling followup_bigrams() until m012_fts.
    register_search_functions(db)
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
    """Once the FTS5 trigram index of title and text. m012_fts replaced it and drops it where
    this ran; a store that has not run it yet gets nothing to drop (m012_fts indexes it)."""


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
    """Once the two-character (bigram) index, filled from the stored articles. m012_fts
    replaced it and drops it where this ran; a store that has not run it yet is not made to
    fill an index m012_fts would drop at once (minutes of CPU at a million articles)."""


@MIGRATIONS()
def m011_nodes(db: Database) -> None:
    """The Scrapyd job that made a crawl run (crawler/nodes.py): the daemon reads a node's
    result by job id. A plain column, no index: it is read together with a run id range."""
    db.execute("ALTER TABLE crawl_runs ADD COLUMN job TEXT")


@MIGRATIONS()
def m012_fts(db: Database) -> None:
    """One search index off the crawl path (crawler.search): articles_search, filled in batches
    from search_queue, replaces the trigram and bigram indexes and their triggers. Stored
    articles are queued here and indexed by the next writer to open the store (Store.open), a
    batch per transaction, not in this one."""
    replace_search_indexes(db)


@MIGRATIONS()
def m013_scale(db: Database) -> None:
    """What each crawl and `followup status` read at once on a store of a million articles."""
    execute_all(db, SCALE_SCHEMA)
    finished = db.execute(
        "SELECT id, started_at, stats FROM crawl_runs WHERE stats IS NOT NULL"
    ).fetchall()
    for run_id, started_at, stats in finished:
        record_verdicts(db, run_id, started_at, json.loads(stats).get("sources", {}))


SCALE_SCHEMA = (
    # The recent-fingerprint window of a quiet store: its few recent articles by fetching time,
    # then their fingerprints (crawler.neardup), instead of every fingerprint newest first.
    "CREATE INDEX articles_fetched_at ON articles(fetched_at)",
    "CREATE INDEX fingerprints_article_id ON fingerprints(article_id)",
    # A source's recheck window (Store.iter_recheck) without reading all its articles.
    "CREATE INDEX articles_source_recheck ON articles(source, coalesce(published_at, fetched_at))",
    # Each finished run's figures per source as `followup status` and the health rules use them
    # (crawler.health.record_verdicts), by source and time: status reads a few rows per source
    # (its last run, the runs that say something) instead of parsing a month of crawl_runs.stats.
    """CREATE TABLE crawl_run_sources (
        source TEXT NOT NULL,
        started_at TEXT NOT NULL,
        run_id INTEGER NOT NULL REFERENCES crawl_runs(id),
        new INTEGER NOT NULL,
        duplicates INTEGER NOT NULL,
        irrelevant INTEGER NOT NULL,
        new_entries INTEGER NOT NULL,
        telling INTEGER NOT NULL,
        problems INTEGER NOT NULL,
        PRIMARY KEY (source, started_at, run_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX crawl_run_sources_run_id ON crawl_run_sources(run_id)",
    # A run's time is its crawl_runs row's, whoever changes it.
    """CREATE TRIGGER crawl_run_sources_started_at AFTER UPDATE OF started_at ON crawl_runs
    BEGIN
        UPDATE crawl_run_sources SET started_at = new.started_at WHERE run_id = new.id;
    END""",
)


@MIGRATIONS()
def m014_flat(db: Database) -> None:
    """What keeps a crawl's cost per article flat as the store grows to a million articles."""
    execute_all(db, FLAT_SCHEMA)


FLAT_SCHEMA = (
    # Each band's index holds the fingerprint's value too, so the near-duplicate lookup
    # (crawler.neardup) compares its candidates without reading a table row for each: a band
    # matches ~size/65,536 stored fingerprints (~15 at 1M, each a random page). ~32 bytes more
    # per fingerprint.
    *(f"DROP INDEX IF EXISTS fingerprints_b{band}" for band in range(4)),
    *(
        f"CREATE INDEX fingerprints_b{band}_value ON fingerprints(b{band}, value)"
        for band in range(4)
    ),
)
