"""When to poll a source next: adaptive intervals, backoff for failing sources, jitter.

Pure functions over a source's state and what its last crawl reported; the daemon
(crawler/daemon.py) runs the crawls and stores the state (crawler/state.py).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from crawler.config import Source
from crawler.report import source_failed
from crawler.state import SourceState

# Media Cloud's rss-fetcher rule, on the share of a poll's entries already seen: a poll with
# nothing new (every entry seen, or 304) lengthens the interval; one where fewer than a third
# were already seen (most were new: entries may have scrolled off the feed unseen) shortens it.
# Unlike Media Cloud, a poll with some news brings a lengthened interval straight back to the
# source's `every`: `every` is the pace the user chose for an active source.
LENGTHEN_BY = 1.5
SHORTEN_BY = 0.5
MOSTLY_NEW_BELOW = 1 / 3
# A failing source waits interval × 2^failures, at most its max_every.
BACKOFF_BASE = 2
# A crawl lost with its worker is tried again this soon (or at its interval, if shorter) the
# first time; lost again, it backs off like any failure (it may be what kills its worker).
LOST_RETRY = timedelta(seconds=30)
# Each wait is lengthened by up to 10% (at most a minute), so sources polled at the same pace
# drift apart instead of hitting sites and the database in lockstep. Never shortened: a wait
# is a promise to the site.
JITTER_SHARE = 0.1
JITTER_MAX = timedelta(minutes=1)
# Characters of a crawl's last error line kept as its error.
ERROR_MAX_CHARS = 300
# "2026-11-22 00:15:05 [crawler.spiders.followup] ERROR: " before a crawl's error lines.
_LOG_PREFIX_RE = re.compile(r"^\S+ \S+ \[[^\]]+\] (?:ERROR|CRITICAL): ")
# The last line of a traceback: "sqlite3.OperationalError: database is locked".
_RAISED_RE = re.compile(r"^[\w.]+(?:Error|Exception)\b")
# The stop reason of crawls the daemon ends because it is stopping itself.
STOPPING = "daemon stopping"


@dataclass(frozen=True, slots=True)
class RunReport:
    """One crawl of one source as the daemon saw it: its figures, or why it failed."""

    figures: Mapping[str, int] | None = None
    run_id: int | None = None
    error: str | None = None  # None: the crawl succeeded
    interrupted: bool = False  # stopped by the daemon's own shutdown: neither success nor failure
    lost: bool = False  # its worker died under it (killed, out of memory): a failure, retried soon

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted


def read_run(
    source_id: str,
    returncode: int,
    stdout: str,
    stderr: str,
    *,
    stop_reason: str | None = None,
) -> RunReport:
    """Interpret a finished `followup crawl --source ID --json` child.

    stop_reason is why the daemon ended the child ("timed out after 20m", "daemon stopping"),
    or None when it ended by itself.
    """
    summary = _parse_summary(stdout)
    figures = summary.get("sources", {}).get(source_id) if summary else None
    run_id = summary.get("run_id") if summary else None
    if stop_reason == STOPPING:
        return RunReport(figures, run_id, interrupted=True)
    if stop_reason is not None:
        return RunReport(figures, run_id, error=f"{stop_reason}; {_last_error(stderr)}")
    if figures is not None and source_failed(figures):
        return RunReport(figures, run_id, error=_last_error(stderr))  # exit status 1 too
    if returncode != 0 or figures is None:
        return RunReport(figures, run_id, error=f"{_exit(returncode)}: {_last_error(stderr)}")
    return RunReport(figures, run_id)


def read_node_run(
    source_id: str,
    stats: Mapping[str, Any] | None,
    *,
    run_id: int | None = None,
    error: str | None = None,
    log: str = "",
    stop_reason: str | None = None,
) -> RunReport:
    """Interpret a source's Scrapyd job (crawler/nodes.py): the stats its run recorded in
    crawl_runs (None: it recorded none), why the node failed it, and the end of its log."""
    sources = (stats or {}).get("sources", {})
    if source_id not in sources and stop_reason is None:
        return RunReport(run_id=run_id, error=error or f"its job recorded no run of {source_id}")
    summary = {"run_id": run_id, "sources": sources}
    # Scrapyd reports no exit status: the figures in the store say how the crawl went.
    return read_run(source_id, 0, json.dumps(summary), log or error or "", stop_reason=stop_reason)


def _parse_summary(stdout: str) -> dict[str, Any] | None:
    try:
        summary = json.loads(stdout)
    except ValueError:
        return None
    return summary if isinstance(summary, dict) else None


def _exit(returncode: int) -> str:
    return f"killed by signal {-returncode}" if returncode < 0 else f"exit status {returncode}"


def _last_error(stderr: str) -> str:
    """The crawl's last error line (it logs one per failed feed or list), else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if _LOG_PREFIX_RE.match(line) or _RAISED_RE.match(line)]
    chosen = _LOG_PREFIX_RE.sub("", (errors or lines or ["no message"])[-1])
    return chosen[:ERROR_MAX_CHARS]


def adapt_interval(current: timedelta, source: Source, figures: Mapping[str, int]) -> timedelta:
    """The interval after a successful poll, from how much of it was new."""
    shortest, longest = source.polling_bounds
    entries, seen = figures.get("entries", 0), figures.get("already_seen", 0)
    unchanged = figures.get("not_modified", 0) >= max(figures.get("lists_read", 0), 1)
    if unchanged or entries == 0 or seen >= entries:
        wanted = current * LENGTHEN_BY
    elif seen / entries < MOSTLY_NEW_BELOW:
        wanted = source.every if current > source.every else current * SHORTEN_BY
    else:
        wanted = min(current, source.every)
    return max(shortest, min(longest, wanted))


def backoff_delay(interval: timedelta, failures: int, source: Source) -> timedelta:
    """How long a source that failed `failures` times in a row waits before the next try."""
    _, longest = source.polling_bounds
    return min(interval * BACKOFF_BASE ** min(failures, 32), longest)


def jitter(delay: timedelta, *, rand: Callable[[], float] = random.random) -> timedelta:
    """What to add to a wait of `delay`: up to JITTER_SHARE of it, at most JITTER_MAX."""
    return min(delay * JITTER_SHARE, JITTER_MAX) * rand()


def after_run(
    state: SourceState,
    report: RunReport,
    source: Source,
    *,
    now: datetime,
    rand: Callable[[], float] = random.random,
) -> SourceState:
    """The source's state once a run has ended at `now`, with its next run planned."""
    if report.interrupted:
        # Not the source's doing: due again as soon as the daemon is back.
        return replace(state, last_run_at=now, last_run_id=report.run_id, next_run_at=now)
    if report.ok:
        assert report.figures is not None
        steady = state.last_success_at is not None and state.consecutive_failures == 0
        interval = (
            adapt_interval(state.interval, source, report.figures) if steady else state.interval
        )
        return replace(
            state,
            interval=interval,
            consecutive_failures=0,
            failing_since=None,
            last_run_at=now,
            last_success_at=now,
            last_error=None,
            last_run_id=report.run_id,
            next_run_at=now + interval + jitter(interval, rand=rand),
        )
    failures = state.consecutive_failures + 1
    delay = backoff_delay(state.interval, failures, source)
    if report.lost and failures == 1:
        delay = min(LOST_RETRY, state.interval)
    return replace(
        state,
        consecutive_failures=failures,
        failing_since=state.failing_since or now,
        last_run_at=now,
        last_error=report.error,
        last_run_id=report.run_id,
        next_run_at=now + delay + jitter(delay, rand=rand),
    )


def first_run(
    state: SourceState | None,
    source: Source,
    *,
    now: datetime,
    rand: Callable[[], float] = random.random,
) -> SourceState:
    """A source's state when the daemon starts: the stored one kept within today's bounds.

    A source never polled, or overdue, is due now (plus jitter, so they do not all start at
    once); one whose next run is planned keeps it, so a restart never polls a site early.
    """
    shortest, longest = source.polling_bounds
    if state is None:
        state = SourceState(source.id, source.every)
    interval = max(shortest, min(longest, state.interval))
    planned = state.next_run_at
    if planned is None or planned < now:
        planned = now + jitter(interval, rand=rand)
    return replace(state, interval=interval, next_run_at=min(planned, now + longest))
