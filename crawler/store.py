"""The SQLite store: opening a database (checked, or read-only), and the reads and writes of
articles, their topics, duplicates, seen URLs, validators, robots.txt, revisions and runs.

The schema is crawler.schema's, the near-duplicate index crawler.neardup's, the retry policy
crawler.seen's. WAL is on so the daemon can write while a user reads, and every write that
belongs together happens in one transaction, by column name (crawler.rows).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from sqlite_utils import Database

from crawler.changes import Validators, content_hash
from crawler.dates import to_iso, utcnow
from crawler.fingerprint import to_hex
from crawler.health import HISTORY, record_verdicts
from crawler.model import Article
from crawler.neardup import NearDuplicateIndex, Original
from crawler.postgres import PostgresError, is_postgres_url, mask_url
from crawler.rows import insert_row, select, update_row
from crawler.schema import MIGRATIONS, migrate
from crawler.search import (
    SEARCH_BATCH,
    index_pending,
    register_match_function,
    register_search_functions,
)
from crawler.seen import RETRIED_STATUSES, Status, is_due, is_settled
from crawler.sketch import Sketch

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000


class StoreError(RuntimeError):
    """A database file that cannot be opened or written."""


def describe_store_error(path: str | Path, exc: sqlite3.Error) -> str:
    """One line for a database that failed while in use: what happened and what to do."""
    message = str(exc)
    if is_postgres_url(path):
        return f"{mask_url(str(path))} failed ({message}): check the server, then run again"
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
    if not isinstance(db, Database):
        return  # PostgreSQL: its reader and store check this as they connect
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


SAVE_SEEN = """INSERT INTO seen (url, source, status, first_seen, last_seen, attempts, detail)
    VALUES (:url, :source, :status, :first_seen, :last_seen, :attempts, :detail)
    ON CONFLICT(url) DO UPDATE SET status = excluded.status, last_seen = excluded.last_seen,
      detail = excluded.detail, attempts = seen.attempts + excluded.attempts"""
# Unrelated articles' seen rows are written this many at a time.
SEEN_BATCH = 100


def _seen_row(url: str, source: str, status: Status, detail: str) -> dict[str, Any]:
    now = to_iso(utcnow())
    row = {"url": url, "source": source, "status": status, "first_seen": now, "last_seen": now}
    return row | {"attempts": int(status in RETRIED_STATUSES), "detail": detail or None}


def open_readonly(path: str | Path) -> Database:
    """An existing database opened read-only (the file is never written), waiting on locks.

    In a directory nobody may write (a read-only mount), WAL's -shm file cannot be made, so
    the file is read as immutable: what it holds, without a -wal that was never checkpointed.
    """
    if is_postgres_url(path):
        return _open_postgres_reader(str(path))
    path = Path(path)
    if not path.is_file():
        raise StoreError(
            f"no database at {path}: run `followup crawl --db {path}` first, or pass --db"
        )
    wal = Path(f"{path}-wal")
    pending = wal.exists() and wal.stat().st_size > 0
    # A file no one can write changes under nobody: read as immutable, SQLite makes no -shm.
    immutable = not pending and write_problem(path) is not None
    try:
        return _connect_readonly(path, immutable=immutable)
    except sqlite3.OperationalError as exc:
        if immutable or os.access(path.parent, os.W_OK):
            raise StoreError(f"cannot read {path} as a followup database: {exc}") from exc
    if pending:
        logger.warning(
            "%s is read-only and its -wal file cannot be applied: the latest changes it holds "
            "are not shown; copy both files somewhere writable to read them",
            path,
        )
    return _connect_readonly(path, immutable=True)


def _open_postgres_reader(url: str) -> Database:
    """A read-only session of a PostgreSQL followup database (crawler.postgres)."""
    from crawler.postgres_schema import open_reader

    try:
        # A PgDatabase answers every call the readers make of a Database, in PostgreSQL.
        return cast(Database, open_reader(url))
    except PostgresError as exc:
        raise StoreError(str(exc)) from exc


def _connect_readonly(path: Path, *, immutable: bool = False) -> Database:
    mode = "immutable=1" if immutable else "mode=ro"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
        register_match_function(conn)  # followup_match() for `followup query`
        db = Database(conn)
        db.table_names()  # reads the schema: fails here on a file that is not SQLite
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read {path} as a followup database: {exc}") from exc
    return db


class Store:
    """Reads and writes of one followup database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        if isinstance(db, Database):  # SQLite: followup_match() for SQL that searches
            register_search_functions(db)
        self.neardup = NearDuplicateIndex(db)
        self._pending_seen: list[dict[str, Any]] = []
        self._queued = 0  # articles this store queued for the search index since it last indexed

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
            # What a writer killed before indexing left queued (crawler.search): searchable now.
            index_pending(db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use {path} as a followup database: {exc}") from exc
        return cls(db)

    @classmethod
    def open_postgres(cls, url: str) -> Store:
        """Open a PostgreSQL database (crawler.postgres), migrated to the current schema."""
        from crawler.postgres_schema import open_migrated

        try:
            # A PgDatabase answers every call the store makes of a Database, in PostgreSQL.
            return cls(cast(Database, open_migrated(url)))
        except PostgresError as exc:
            raise StoreError(str(exc)) from exc

    @classmethod
    def memory(cls) -> Store:
        """A throw-away in-memory store (tests, benchmarks)."""
        db = Database(memory=True)
        migrate(db)
        return cls(db)

    def close(self) -> None:
        self.flush()
        self.index_search()
        self.db.close()

    def index_search(self) -> int:
        """Index the articles queued for search (this process's and any other's)."""
        self._queued = 0
        if not isinstance(self.db, Database):  # PostgreSQL: pg_trgm's indexes are the server's
            return 0
        return index_pending(self.db)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so check-then-write is safe
        against another process doing the same. The outcomes save_seen_later holds are written
        in it too (a commit of their own would cost as much as the article's)."""
        # A batch of queued articles is indexed before the next write, not after the commit of
        # the one that filled it: an error of the index (a full disk) is then that write's, and
        # never reported for an article already stored.
        if self._queued >= SEARCH_BATCH:
            self.index_search()
        self.db.execute("BEGIN IMMEDIATE")
        held, self._pending_seen = self._pending_seen, []
        try:
            self._write_seen(held)
            yield
        except BaseException:
            self.db.rollback()
            self._pending_seen[:0] = held  # not lost with the write that failed
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
        return {url for url, row in self.get_seen(urls).items() if not is_due(row, now)}

    def find_original(
        self,
        fingerprint: int | None,
        title_key: str,
        *,
        sketch: Sketch | None = None,
        original_title_key: str = "",
    ) -> Original | None:
        """The stored article this one near-duplicates, if any (crawler.neardup)."""
        return self.neardup.find_original(
            fingerprint, title_key, sketch=sketch, original_title_key=original_title_key
        )

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
                self._write_seen(rows)

    def _write_seen(self, rows: list[dict[str, Any]]) -> None:
        if rows:
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
        row = article_row(article, source, fingerprint, title_key, original_title_key)
        article_id = insert_row(self.db, "articles", {**row, "baseline": int(baseline)})
        self._queued += 1  # by the trigger search_queue_ai
        self._save_topics(article_id, topics)
        self.neardup.save_fingerprint(article_id, fingerprint, sketch)
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
        self.neardup.save_fingerprint(original.article_id, fingerprint, sketch)
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
        row = article_row(article, source, fingerprint, title_key, original_title_key)
        update_row(
            self.db, "articles", old["id"], {**row, "simhash": row["simhash"] or old["simhash"]}
        )
        self._queued += 1  # by the trigger search_queue_au
        self._save_topics(old["id"], topics)
        self.neardup.save_fingerprint(old["id"], fingerprint, sketch)
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
        row = {"url": url, "source": source, "title": title, "duplicate_of": original.article_id}
        row |= {"distance": original.distance, "method": original.method}
        insert_row(self.db, "duplicates", row | {"published_at": published_at, "seen_at": seen_at})

    def mark_baseline(self, article_id: int, topic: str, terms: list[str]) -> None:
        """Mark a stored story as a topic's known coverage, filed under that topic (keeping the
        terms it already matched there, if it was). Known coverage is not news: messages still
        owed about the story are withdrawn; one already sent stays sent."""
        # Imported here: the crawl, the only caller, has it loaded; readers never need it.
        from crawler.notify.outbox import withdraw_article_rows

        self.db.execute("UPDATE articles SET baseline = 1 WHERE id = ?", [article_id])
        self.db.execute(
            """INSERT INTO article_topics (article_id, topic, matched) VALUES (?, ?, ?)
               ON CONFLICT(article_id, topic) DO NOTHING""",
            [article_id, topic, json.dumps(terms, ensure_ascii=False)],
        )
        withdraw_article_rows(self.db, article_id)

    def _save_topics(self, article_id: int, topics: dict[str, list[str]]) -> None:
        """File an article under its topics with the terms it matched (replacing old terms)."""
        self.db.conn.executemany(
            """INSERT INTO article_topics (article_id, topic, matched) VALUES (?, ?, ?)
               ON CONFLICT(article_id, topic) DO UPDATE SET matched = excluded.matched""",
            [(article_id, t, json.dumps(terms, ensure_ascii=False)) for t, terms in topics.items()],
        )

    # Crawl runs ----------------------------------------------------------------------------

    def start_run(self, sources: Iterable[str], *, job: str | None = None) -> int:
        """Record the start of a crawl (job: the Scrapyd job running it); returns the run id."""
        row = {"started_at": to_iso(utcnow()), "sources": json.dumps(list(sources)), "job": job}
        return insert_row(self.db, "crawl_runs", row)

    def finish_run(self, run_id: int, stats: dict[str, Any]) -> None:
        """Record the end of a crawl and its per-source figures (and their verdicts)."""
        with self.transaction():
            self.db.execute(
                "UPDATE crawl_runs SET finished_at = ?, stats = ? WHERE id = ?",
                [to_iso(utcnow()), json.dumps(stats, ensure_ascii=False, sort_keys=True), run_id],
            )
            (started_at,) = self.db.execute(
                "SELECT started_at FROM crawl_runs WHERE id = ?", [run_id]
            ).fetchone()
            record_verdicts(self.db, run_id, started_at, stats.get("sources", {}))

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
            """INSERT INTO robots_txt (url, status, body, fetched_at) VALUES (?, ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET status = excluded.status, body = excluded.body,
                 fetched_at = excluded.fetched_at""",
            [url, status, body, to_iso(utcnow())],
        )

    def save_validators(self, url: str, validators: Validators) -> None:
        """Remember how a URL's current version is identified (replacing what was there)."""
        self.db.execute(
            """INSERT INTO http_validators (url, etag, last_modified, content_hash, saved_at)
               VALUES (:url, :etag, :last_modified, :content_hash, :saved_at)
               ON CONFLICT(url) DO UPDATE SET etag = excluded.etag,
                 last_modified = excluded.last_modified, content_hash = excluded.content_hash,
                 saved_at = excluded.saved_at""",
            {"url": url, **asdict(validators), "saved_at": to_iso(utcnow())},
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
        return all(url in seen and is_settled(seen[url]) for url in urls)

    def get_stored_hashes(self, urls: Sequence[str], *, source: str) -> dict[str, str]:
        """Content hash of each URL stored as an article of `source` (the others are left out)."""
        found = {}
        for start in range(0, len(urls), 500):
            chunk = list(urls[start : start + 500])
            marks = ",".join("?" * len(chunk))
            # By URL alone: with `source = ?` too, SQLite reads every article of the source.
            rows = self.db.query(
                f"SELECT url, source, title, text FROM articles WHERE url IN ({marks})", chunk
            )
            for row in rows:
                if row["source"] == source:
                    found[row["url"]] = content_hash(row["title"], row["text"])
        return found

    def get_article(self, url: str) -> dict[str, Any] | None:
        """The stored article with this URL, or None."""
        return next(iter(self.db.query("SELECT * FROM articles WHERE url = ?", [url])), None)

    def iter_recheck(self, source: str, *, since: datetime) -> Iterator[dict[str, Any]]:
        """Articles of `source` published (or, without a date, fetched) since a time, by id."""
        # Sorted here: with `ORDER BY id` SQLite walks articles_source (already in id order)
        # through every article of the source rather than the window's index and a sort.
        rows = self.db.query(
            """SELECT id, url, title, author, published_at FROM articles
               WHERE source = ? AND baseline = 0 AND coalesce(published_at, fetched_at) >= ?""",
            [source, to_iso(since)],
        )
        yield from sorted(rows, key=lambda row: row["id"])

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
        version = {"article_id": current["id"], "fetched_at": previous or current["fetched_at"]}
        version |= {"replaced_at": now, "title": current["title"], "text": current["text"]}
        version_id = insert_row(
            self.db, "article_versions", version | {"simhash": current["simhash"]}
        )
        simhash = to_hex(fingerprint) if fingerprint is not None else None
        replaced = {"title": article.title, "text": article.text, "simhash": simhash}
        update_row(self.db, "articles", current["id"], replaced | {"title_key": title_key})
        self._queued += 1  # by the trigger search_queue_au
        self._save_topics(current["id"], topics)
        if fingerprint is not None and to_hex(fingerprint) != current["simhash"]:
            self.neardup.save_fingerprint(current["id"], fingerprint, sketch)
        return version_id

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

    def prune_runs(self, *, before: datetime) -> int:
        """Forget crawl runs started before a time, but what `status` and the health codes
        read: every run of the last HISTORY, and the last run of each source the daemon polls
        (source_state.last_run_id). Returns how many runs went."""
        before = min(before, utcnow() - HISTORY)
        old = """SELECT id FROM crawl_runs WHERE started_at < ? AND id NOT IN
                 (SELECT last_run_id FROM source_state WHERE last_run_id IS NOT NULL)"""
        with self.transaction():
            self.db.execute(
                f"DELETE FROM crawl_run_sources WHERE run_id IN ({old})", [to_iso(before)]
            )
            return self.db.execute(
                f"DELETE FROM crawl_runs WHERE id IN ({old})", [to_iso(before)]
            ).rowcount


def open_store(location: str | Path) -> Store:
    """The store at a SQLite file path or a postgresql:// URL, migrated (--db, FOLLOWUP_DB)."""
    if is_postgres_url(location):
        return Store.open_postgres(str(location))
    return Store.open(location)


class CrawlReads(Protocol):
    """What a spider may ask of the store, and all it may: which URLs not to request, which
    validators to send, what a stored article says. StorePipeline owns the writes."""

    def get_known(self, urls: Sequence[str], *, now: datetime | None = None) -> set[str]: ...

    def get_validators(self, urls: Sequence[str]) -> dict[str, Validators]: ...

    def get_stored_hashes(self, urls: Sequence[str], *, source: str) -> dict[str, str]: ...

    def iter_recheck(self, source: str, *, since: datetime) -> Iterator[dict[str, Any]]: ...


class RobotsTxtCache(Protocol):
    """The robots.txt bodies of earlier crawls, as the robots.txt middleware uses them."""

    def get_robots_txt(self, url: str, *, max_age: timedelta) -> bytes | None: ...

    def save_robots_txt(self, url: str, status: int, body: bytes) -> None: ...


def article_row(
    article: Article,
    source: str,
    fingerprint: int | None,
    title_key: str,
    original_title_key: str,
) -> dict[str, Any]:
    """The `articles` columns of a new version of an article, fetched now."""
    return {
        "url": article.url,
        "source": source,
        "title": article.title,
        "author": article.author or None,
        "published_at": to_iso(article.published),
        "fetched_at": to_iso(utcnow()),
        "text": article.text,
        "simhash": to_hex(fingerprint) if fingerprint is not None else None,
        "title_key": title_key,
        "original_title_key": original_title_key or None,
    }
