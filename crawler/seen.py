"""What became of each URL a crawl met (the `seen` table's statuses), and when a URL that gave
no article is asked again: the retry policy, pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from crawler.dates import from_iso

Status = Literal["stored", "duplicate", "irrelevant", "blocked", "failed", "redirected"]
# Statuses after which a URL is never requested again.
FINAL_STATUSES: frozenset[str] = frozenset({"stored", "duplicate", "irrelevant"})
# Statuses that count as an attempt: the page is asked again later.
RETRIED_STATUSES: frozenset[str] = frozenset({"blocked", "failed", "redirected"})
# Blocked, redirected (off the site) and failed pages are retried on later crawls, RETRY_AFTER
# after the first failure, twice as long after each further one, until MAX_ATTEMPTS: a WAF page
# or an outage is usually temporary, and a lost article is worse than a few requests.
RETRY_AFTER = timedelta(hours=1)
MAX_ATTEMPTS = 6


def is_due(row: dict[str, Any], now: datetime) -> bool:
    """True when a seen URL should be requested again (a failure whose wait is over)."""
    if is_settled(row):
        return False
    wait = RETRY_AFTER * 2 ** max(row["attempts"] - 1, 0)
    return from_iso(row["last_seen"]) + wait <= now


def is_settled(row: dict[str, Any]) -> bool:
    """True when no later crawl changes a URL's outcome: final, or given up."""
    return row["status"] in FINAL_STATUSES or row["attempts"] >= MAX_ATTEMPTS
