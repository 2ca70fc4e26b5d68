"""Per-source figures of a crawl, kept as Scrapy stats and summarised for people and scripts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crawler.health import run_problems
from crawler.tables import format_table

# Per-source stats keys are followup/sources/<source id>/<event>: a source id can never
# collide with a component's own keys (followup/robotstxt/stored), whatever it is named.
STATS_PREFIX = "followup/sources"
EVENTS = (
    "lists_read",  # feeds and list pages fetched and parsed, or unchanged (304)
    "not_modified",  # of those, unchanged since the last crawl (304): nothing to parse
    "lists_failed",  # feeds and list pages that could not be fetched or parsed
    "entries",  # links found in them
    "items_skipped",  # feed items that could not be read (a bad URL…): skipped, the rest kept
    "new",  # new related articles stored
    "baseline",  # topic seeds stored as known coverage
    "duplicates",  # reposts recorded as sightings of a stored article
    "irrelevant",  # articles that match no topic
    "already_seen",  # links skipped before any request: seen on an earlier crawl
    "blocked",  # WAF / verification pages and empty extractions
    "failed",  # article pages that could not be fetched
    "rechecked",  # stored articles re-fetched to catch edits (sources with `recheck`)
    "revised",  # stored articles whose text changed: the old version kept in article_versions
    # Health: what tells a site that changed from a quiet one (crawler.health reads these).
    "empty_lists",  # feeds and lists that answered 200 with no entry at all
    "feed_articles",  # articles taken whole from a full-text feed, no page fetched
    "site_extracted",  # article pages the site module read
    "fallback_extracted",  # article pages only the generic extractor could read
    "undated",  # articles (feed or page) without a publication date
    "redirected",  # pages, feeds or lists redirected off the site (not followed)
    "http_403",  # 403 answers (refused), retries included
    "http_429",  # 429 answers (rate-limited), retries included
)
COLUMNS = {
    "lists_read": "lists",
    "entries": "entries",
    "new": "new",
    "baseline": "baseline",
    "duplicates": "dupes",
    "irrelevant": "unrelated",
    "already_seen": "seen",
    "blocked": "blocked",
    "failed": "failed",
}


def stats_key(source: str, event: str) -> str:
    """The Scrapy stats key of one per-source counter."""
    return f"{STATS_PREFIX}/{source}/{event}"


def summarize(stats: Mapping[str, Any], sources: Iterable[str]) -> dict[str, dict[str, int]]:
    """Per-source counters out of a crawl's Scrapy stats (every event present, zero if none)."""
    return {
        source: {event: int(stats.get(stats_key(source, event), 0)) for event in EVENTS}
        for source in sources
    }


def source_failed(figures: Mapping[str, int]) -> bool:
    """A source failed when none of its feeds or lists could be read."""
    return figures.get("lists_failed", 0) > 0 and figures.get("lists_read", 0) == 0


def all_failed(summary: Mapping[str, Mapping[str, int]], sources: Iterable[str]) -> bool:
    """True when every polled source failed (the crawl as a whole did not run)."""
    polled = [summary[s] for s in sources if s in summary]
    return bool(polled) and all(source_failed(f) for f in polled)


def format_summary(summary: Mapping[str, Mapping[str, int]]) -> str:
    """A plain-text table, one row per source, for the terminal."""
    headers = ["source", *COLUMNS.values(), "status"]
    rows = [
        [source, *(str(figures[e]) for e in COLUMNS), _status(figures)]
        for source, figures in summary.items()
    ]
    return format_table(headers, rows, right=range(1, len(headers) - 1))


def _status(figures: Mapping[str, int]) -> str:
    if source_failed(figures) or _pages_all_failed(figures):
        return "FAILED"
    problems = [
        f"{figures[event]} {what}"
        for event, what in (
            ("lists_failed", "list(s) failed"),
            ("failed", "page(s) failed"),
            ("items_skipped", "item(s) skipped"),
        )
        if figures.get(event)
    ]
    # This run's health problems (status shows those that last): fallback, all_blocked…
    return ", ".join([*problems, *run_problems(figures)]) or "ok"


def _pages_all_failed(figures: Mapping[str, int]) -> bool:
    """True for a row without lists (topic seeds) whose every page failed."""
    done = ("new", "baseline", "duplicates", "irrelevant", "blocked", "already_seen")
    return (
        bool(figures.get("failed"))
        and not figures.get("lists_read")
        and not any(figures.get(event) for event in done)
    )
