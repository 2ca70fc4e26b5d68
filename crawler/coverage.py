"""Reading the store back: stored articles with their topics and their sightings elsewhere.

Readers open the file read-only and stream what they read inside one read transaction (one
snapshot, consistent while the daemon writes). While it is open WAL cannot checkpoint past it, so
the -wal file may grow for as long as an export runs; it is checkpointed at the next write after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from crawler.dates import to_iso

# Articles read per query while streaming: few queries, a bounded amount held at once.
BATCH = 500


@dataclass(frozen=True, slots=True)
class Sighting:
    """A repost or syndicated copy of a stored article."""

    url: str
    source: str
    title: str
    distance: int
    published_at: str | None
    seen_at: str


@dataclass(frozen=True, slots=True)
class Coverage:
    """A stored article, the topics it matched (topic → terms) and where else it appeared."""

    id: int
    url: str
    source: str
    title: str
    author: str | None
    published_at: str | None
    fetched_at: str
    text: str
    baseline: bool
    topics: dict[str, list[str]] = field(default_factory=dict)
    sightings: list[Sighting] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which stored articles to read (all by default). Times compare with the publication time,
    or the fetch time where the source gave none: since inclusive, until exclusive."""

    topic: str | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_baseline: bool = True
    ids: tuple[int, ...] | None = None  # only these articles (notifications)

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE condition on `articles a`, and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if not self.include_baseline:
            clauses.append("a.baseline = 0")
        if self.ids is not None:
            clauses.append(f"a.id IN ({','.join('?' * len(self.ids))})")
            params.extend(self.ids)
        if self.topic is not None:
            clauses.append("a.id IN (SELECT article_id FROM article_topics WHERE topic = ?)")
            params.append(self.topic)
        if self.source is not None:
            clauses.append("a.source = ?")
            params.append(self.source)
        if self.since is not None:
            clauses.append("coalesce(a.published_at, a.fetched_at) >= ?")
            params.append(to_iso(self.since))
        if self.until is not None:
            clauses.append("coalesce(a.published_at, a.fetched_at) < ?")
            params.append(to_iso(self.until))
        return " AND ".join(clauses) or "1 = 1", params


def iter_coverage(db: Database, *, selection: Selection | None = None) -> Iterator[Coverage]:
    """The selected articles, newest publication first, with topics and sightings, streamed.

    One read transaction for the whole stream (one snapshot, however long the caller takes).
    Only the ordered ids are sorted by SQLite (its sorter spills to a temporary file, so memory
    stays flat); rows, topics and sightings are then read BATCH articles at a time.
    """
    where, params = (selection or Selection()).where()
    with db.atomic():
        ordered = db.execute(
            f"SELECT a.id FROM articles a WHERE {where} "
            "ORDER BY coalesce(a.published_at, a.fetched_at) DESC, a.id DESC",
            params,
        )
        while batch := ordered.fetchmany(BATCH):
            yield from _coverage_of(db, [row[0] for row in batch])


def _coverage_of(db: Database, ids: list[int]) -> Iterator[Coverage]:
    """The articles with these ids, in this order."""
    where = f"a.id IN ({','.join('?' * len(ids))})"
    rows = {
        row[0]: row
        for row in db.execute(
            "SELECT id, url, source, title, author, published_at, fetched_at, text, baseline "
            f"FROM articles a WHERE {where}",
            ids,
        )
    }
    topics = _topics_by_article(db, where, ids)
    sightings = _sightings_by_article(db, where, ids)
    for id_, url, source, title, author, published_at, fetched_at, text, baseline in map(
        rows.__getitem__, ids
    ):
        yield Coverage(
            id=id_,
            url=url,
            source=source,
            title=title,
            author=author,
            published_at=published_at,
            fetched_at=fetched_at,
            text=text,
            baseline=bool(baseline),
            topics=topics.get(id_, {}),
            sightings=sightings.get(id_, []),
        )


def _topics_by_article(
    db: Database, where: str, params: list[Any]
) -> dict[int, dict[str, list[str]]]:
    found: dict[int, dict[str, list[str]]] = {}
    # The same few term lists recur across articles: each distinct text is parsed once (a
    # quarter of an export's CPU went to json.loads), its list shared by the articles, read-only.
    parsed: dict[str, list[str]] = {}
    for article_id, topic, matched in db.execute(
        "SELECT article_id, topic, matched FROM article_topics "
        f"WHERE article_id IN (SELECT a.id FROM articles a WHERE {where}) ORDER BY topic",
        params,
    ):
        terms = parsed.get(matched)
        if terms is None:
            terms = parsed[matched] = json.loads(matched)
        found.setdefault(article_id, {})[topic] = terms
    return found


def _sightings_by_article(db: Database, where: str, params: list[Any]) -> dict[int, list[Sighting]]:
    found: dict[int, list[Sighting]] = {}
    for row in db.query(
        "SELECT * FROM duplicates "
        f"WHERE duplicate_of IN (SELECT a.id FROM articles a WHERE {where}) ORDER BY seen_at, id",
        params,
    ):
        found.setdefault(row["duplicate_of"], []).append(
            Sighting(
                url=row["url"],
                source=row["source"],
                title=row["title"],
                distance=row["distance"],
                published_at=row["published_at"],
                seen_at=row["seen_at"],
            )
        )
    return found


def format_coverage(items: list[Coverage]) -> str:
    """A terminal listing: each article with its time, source and sightings."""
    lines = []
    for item in items:
        when = (item.published_at or item.fetched_at).replace("T", " ").replace("Z", " UTC")
        mark = " [baseline]" if item.baseline else ""
        lines.append(f"{when}  {item.source:<10}  {item.title}{mark}")
        lines.append(f"{'':>24}  {item.url}")
        for sighting in item.sightings:
            lines.append(
                f"{'':>24}  also on {sighting.source} (distance {sighting.distance}): {sighting.url}"
            )
    return "\n".join(lines)


def get_topics(db: Database) -> list[str]:
    """The topic ids stored articles are filed under."""
    return [r["topic"] for r in db.query("SELECT DISTINCT topic FROM article_topics ORDER BY 1")]


def get_sources(db: Database) -> list[str]:
    """The source ids of stored articles ('seeds' for topic seeds)."""
    return [r["source"] for r in db.query("SELECT DISTINCT source FROM articles ORDER BY 1")]
