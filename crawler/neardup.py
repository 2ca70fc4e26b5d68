"""The near-duplicate index and the original-or-duplicate decision.

A stored article's fingerprints (the simhash split into four indexed 16-bit bands, and the
shingle sketch of the second tier) are its index rows: `find_original` looks a new article up
by band (any age), against the recent window in memory (NEAR_DISTANCE, then the sketches' tier
up to SKETCH_DISTANCE), then by title. `decide` says what a match makes of the new copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlite_utils import Database

from crawler.dates import to_iso, utcnow
from crawler.fingerprint import NEAR_DISTANCE, from_signed, hamming, split_bands, to_signed
from crawler.model import Article
from crawler.rows import insert_row
from crawler.sketch import SKETCH_CANDIDATES, SKETCH_DISTANCE, Sketch, is_contained_copy

# How a duplicate was recognised (`duplicates.method`): simhash distance, normalised title, or the
# second tier's containment of shingles.
Method = Literal["simhash", "title", "containment"]
# Beyond the band index (3 bits), fingerprints and sketches are compared against recent ones only.
RECENT_WINDOW = timedelta(days=30)
# At NEAR_DISTANCE a distinct article falls that close with p ≈ 1.8e-8 per comparison
# (tests/neardup measurements): 5,000 comparisons keep a false merge below 1 in 10,000 articles.
RECENT_LIMIT = 5_000


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
        rows = db.execute(*_window_query(db, self.last_id, since, limit)).fetchall()
        if not rows:
            return
        # Oldest first, as arrays at once: a window is up to `limit` rows, each crawl loads it.
        row_ids, ids, signed = np.array(rows[::-1], dtype=np.int64).T
        self.last_id = max(self.last_id, int(row_ids[-1]))
        values = signed.view(np.uint64)  # the same 64 bits, read unsigned (from_signed)
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


# The recent-window read: the fingerprints newer than the last one read whose article was fetched
# since a time, newest first. Two plans for the same rows; CROSS JOIN fixes the order of the loop.
# Newest fingerprints first, stopping at `limit`: cheap when the window is busy, but in a store
# with few recent articles it reads every fingerprint (2.1 s at 1M).
WINDOW_BY_FINGERPRINT = """SELECT f.id, f.article_id, f.value FROM fingerprints f
    CROSS JOIN articles a WHERE a.id = f.article_id AND f.id > ? AND a.fetched_at >= ?
    ORDER BY f.id DESC LIMIT ?"""
# The recent articles by fetching time (articles_fetched_at), then their fingerprints: cheap when
# few articles are recent.
WINDOW_BY_ARTICLE = """SELECT f.id, f.article_id, f.value FROM articles a
    CROSS JOIN fingerprints f WHERE f.article_id = a.id AND f.id > ? AND a.fetched_at >= ?
    ORDER BY f.id DESC LIMIT ?"""
# Up to this many recent articles (counted in the index, stopping there) is few.
FEW_RECENT = 4 * RECENT_LIMIT


def _window_query(db: Database, last_id: int, since: datetime, limit: int) -> tuple[str, list[Any]]:
    """The recent-window read and its arguments: by article when few articles are recent."""
    params = [last_id, to_iso(since), limit]
    if last_id:
        return WINDOW_BY_FINGERPRINT, params  # a top-up reads only fingerprints past last_id
    (recent,) = db.execute(
        "SELECT count(*) FROM (SELECT 1 FROM articles WHERE fetched_at >= ? LIMIT ?) AS recent",
        [params[1], FEW_RECENT],
    ).fetchone()
    return (WINDOW_BY_ARTICLE if recent < FEW_RECENT else WINDOW_BY_FINGERPRINT), params


# The candidates of the band index: each band's index holds the value (m014_flat), so every arm
# reads that index alone, never a table row per candidate (~15 a band at 1M fingerprints). With
# OR instead, SQLite fetched each candidate's row (~200 µs a lookup at 1M instead of ~45 µs).
BAND_CANDIDATES = " UNION ALL ".join(
    f"SELECT id, value FROM fingerprints WHERE b{band} = ?" for band in range(4)
)


class NearDuplicateIndex:
    """The fingerprints table of one database, with the recent window kept in memory."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.recent = RecentFingerprints()

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
        """(article_id, distance) of the closest fingerprint sharing a band (the oldest of
        equals), or None."""
        rows = self.db.execute(BAND_CANDIDATES, list(split_bands(fingerprint)))
        best = min(
            ((hamming(fingerprint, from_signed(value)), row_id) for row_id, value in rows),
            default=None,
        )
        if best is None:
            return None
        distance, row_id = best
        (article_id,) = self.db.execute(
            "SELECT article_id FROM fingerprints WHERE id = ?", [row_id]
        ).fetchone()
        return article_id, distance

    def _find_by_title(
        self, keys: Sequence[str], *, newsflash_only: bool = False
    ) -> Original | None:
        """The first article whose title or `原标题` is one of `keys` (only those too short
        for a fingerprint, with newsflash_only)."""
        if not keys:
            return None
        marks = ",".join("?" * len(keys))
        # Each index on its own, then the union: given ANALYZE's statistics of a store where
        # original_title_key is mostly NULL, SQLite took `a OR b ... ORDER BY id LIMIT 1` for a
        # scan of every article in id order (~125 ms per crawled article at 1M).
        row = self.db.execute(
            f"""SELECT id FROM articles WHERE id IN (
                    SELECT id FROM articles WHERE title_key IN ({marks})
                    UNION SELECT id FROM articles WHERE original_title_key IN ({marks}))
                {"AND simhash IS NULL" if newsflash_only else ""}
                ORDER BY id LIMIT 1""",
            [*keys, *keys],
        ).fetchone()
        return self._original(row[0], 0, "title") if row else None

    def save_fingerprint(
        self, article_id: int, fingerprint: int | None, sketch: Sketch | None = None
    ) -> None:
        """Index an article under a fingerprint (a text too short for one is not indexed)."""
        if fingerprint is None:
            return
        b0, b1, b2, b3 = split_bands(fingerprint)
        row: dict[str, Any] = {"article_id": article_id, "value": to_signed(fingerprint)}
        row |= {"b0": b0, "b1": b1, "b2": b2, "b3": b3}
        row["sketch"] = sketch.to_bytes() if sketch is not None else None
        insert_row(self.db, "fingerprints", row)


Decision = Literal["new", "earlier", "duplicate"]


def decide(original: Original | None, article: Article) -> Decision:
    """What a new related article is: new (no original), the earlier original of a stored copy
    (published before it: a story's original is its first publication, whichever copy the
    crawl met first; never over a baseline), or a duplicate of its original."""
    if original is None:
        return "new"
    if not original.baseline and original.published_after(article):
        return "earlier"
    return "duplicate"
