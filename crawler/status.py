"""`followup status`: how each source the daemon polls is doing, for people and health checks."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from sqlite_utils import Database

from crawler.dates import format_duration, from_iso, to_iso
from crawler.health import Health, get_health, iter_run_sources
from crawler.nodes import get_run_jobs
from crawler.state import SourceState, get_source_states
from crawler.tables import clip, format_table

WINDOW = timedelta(hours=24)
# Figures of crawl_runs summed over WINDOW.
COUNTED = ("new", "duplicates", "irrelevant")
ERROR_COLUMN_CHARS = 60


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One source as `followup status` shows it; times are UTC ISO-8601."""

    source: str
    interval_seconds: float
    consecutive_failures: int
    failing_since: str | None
    last_run_at: str | None
    last_success_at: str | None
    last_error: str | None
    next_run_at: str | None
    runs_24h: int
    new_24h: int
    duplicates_24h: int
    irrelevant_24h: int
    problem: str | None  # why a health check should alert, or None
    health: list[Health]  # crawler.health's codes, [] when all is well
    last_job: str | None = None  # the Scrapyd job of its last run, for a source on a node


def get_status(db: Database, *, now: datetime, max_failing: timedelta) -> list[SourceStatus]:
    """The status of every source in source_state, with crawl_runs figures of the last 24 h."""
    figures = _recent_figures(db, since=now - WINDOW)
    health = get_health(db, now=now, max_failing=max_failing)
    states = get_source_states(db).values()
    jobs = get_run_jobs(db, [state.last_run_id for state in states if state.last_run_id])
    return [
        replace(
            _status(
                state,
                figures.get(state.source, Counter()),
                health.get(state.source, []),
                now=now,
                max_failing=max_failing,
            ),
            last_job=jobs.get(state.last_run_id or 0),
        )
        for state in states
    ]


def _status(
    state: SourceState,
    counts: Counter[str],
    health: list[Health],
    *,
    now: datetime,
    max_failing: timedelta,
) -> SourceStatus:
    return SourceStatus(
        source=state.source,
        interval_seconds=state.interval.total_seconds(),
        consecutive_failures=state.consecutive_failures,
        failing_since=to_iso(state.failing_since),
        last_run_at=to_iso(state.last_run_at),
        last_success_at=to_iso(state.last_success_at),
        last_error=state.last_error,
        next_run_at=to_iso(state.next_run_at),
        runs_24h=counts["runs"],
        new_24h=counts["new"],
        duplicates_24h=counts["duplicates"],
        irrelevant_24h=counts["irrelevant"],
        problem=find_problem(state, now=now, max_failing=max_failing),
        health=health,
    )


def find_problem(state: SourceState, *, now: datetime, max_failing: timedelta) -> str | None:
    """Why a source needs a person: failing for longer than max_failing, or not polled for that long."""
    if state.failing_since is not None and now - state.failing_since > max_failing:
        return (
            f"{state.source}: failing for {_coarse(now - state.failing_since)} "
            f"({state.consecutive_failures} runs in a row): {state.last_error}"
        )
    if state.next_run_at is not None and now - state.next_run_at > max_failing:
        return (
            f"{state.source}: its run was due {_coarse(now - state.next_run_at)} ago; "
            "is the daemon running?"
        )
    return None


def _recent_figures(db: Database, *, since: datetime) -> dict[str, Counter[str]]:
    """Per source: runs, new, duplicates, irrelevant summed over crawls started since a time."""
    figures = {}
    for source in iter_run_sources(db):
        counts = db.execute(
            """SELECT count(*), sum(new), sum(duplicates), sum(irrelevant) FROM crawl_run_sources
               WHERE source = ? AND started_at >= ?""",
            [source, to_iso(since)],
        ).fetchone()
        if counts[0]:
            figures[source] = Counter(dict(zip(("runs", *COUNTED), counts, strict=True)))
    return figures


def format_status(statuses: Iterable[SourceStatus], *, now: datetime) -> str:
    """A plain-text table, one row per source."""
    headers = ["source", "interval", "last run", "last success", "fails", "next run"]
    headers += ["new", "dupes", "unrelated", "health", "error"]
    rows = [
        [
            s.source,
            format_duration(timedelta(seconds=s.interval_seconds)),
            _ago(s.last_run_at, now),
            _ago(s.last_success_at, now),
            str(s.consecutive_failures),
            _ahead(s.next_run_at, now),
            str(s.new_24h),
            str(s.duplicates_24h),
            str(s.irrelevant_24h),
            ",".join(h.code for h in s.health),
            clip(s.last_error or "", ERROR_COLUMN_CHARS),
        ]
        for s in statuses
    ]
    return format_table(headers, rows)


def format_health(statuses: Iterable[SourceStatus], *, ignore: Iterable[str] = ()) -> list[str]:
    """One line per health code (but `failing`, which the problem line says), for stderr."""
    skip = {"failing", *ignore}
    return [
        f"{s.source}: {h.code} since {h.since}: {h.detail}"
        for s in statuses
        for h in s.health
        if h.code not in skip
    ]


def status_json(statuses: Iterable[SourceStatus]) -> str:
    """The statuses as a JSON list (figures of the last 24 h end in _24h)."""
    return json.dumps([asdict(s) for s in statuses], ensure_ascii=False, indent=2)


def _ago(value: str | None, now: datetime) -> str:
    if value is None:
        return "never"
    return f"{_coarse(now - from_iso(value))} ago"


def _ahead(value: str | None, now: datetime) -> str:
    if value is None:
        return "-"
    moment = from_iso(value)
    if moment <= now:
        return f"due {_coarse(now - moment)} ago"
    return f"in {_coarse(moment - now)}"


def _coarse(value: timedelta) -> str:
    """A time span for people, to the minute above a minute: '45s', '5m', '7h', '1h30m', '2d3h'."""
    seconds = max(int(value.total_seconds()), 1)
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    big, small = (
        (divmod(minutes, 60), "hm") if minutes < 1440 else (divmod(minutes // 60, 24), "dh")
    )
    return f"{big[0]}{small[0]}" + (f"{big[1]}{small[1]}" if big[1] else "")
