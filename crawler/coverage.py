"""Reading the store back: stored articles with their topics and their sightings elsewhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlite_utils import Database


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


def iter_coverage(db: Database, *, include_baseline: bool = True) -> Iterator[Coverage]:
    """Every stored article, newest publication first, with topics and sightings."""
    where = "" if include_baseline else "WHERE baseline = 0"
    articles = list(
        db.query(
            f"SELECT * FROM articles {where} "
            "ORDER BY coalesce(published_at, fetched_at) DESC, id DESC"
        )
    )
    topics = _topics_by_article(db)
    sightings = _sightings_by_article(db)
    for row in articles:
        yield Coverage(
            id=row["id"],
            url=row["url"],
            source=row["source"],
            title=row["title"],
            author=row["author"],
            published_at=row["published_at"],
            fetched_at=row["fetched_at"],
            text=row["text"],
            baseline=bool(row["baseline"]),
            topics=topics.get(row["id"], {}),
            sightings=sightings.get(row["id"], []),
        )


def _topics_by_article(db: Database) -> dict[int, dict[str, list[str]]]:
    found: dict[int, dict[str, list[str]]] = {}
    for row in db.query("SELECT article_id, topic, matched FROM article_topics"):
        found.setdefault(row["article_id"], {})[row["topic"]] = json.loads(row["matched"])
    return found


def _sightings_by_article(db: Database) -> dict[int, list[Sighting]]:
    found: dict[int, list[Sighting]] = {}
    for row in db.query("SELECT * FROM duplicates ORDER BY seen_at, id"):
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
