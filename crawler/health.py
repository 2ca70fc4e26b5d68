"""Per-source health: stable codes that say a site has changed under its module, or gone quiet.

`find_health` is pure: a source's recent runs (the per-source figures each crawl stored in
crawl_runs.stats) and its daemon state in, a list of `Health(code, since, detail)` out.
`get_health` reads them from a database for every source; `followup status` shows the result,
and anything else (notifications, a dashboard) can call it with a read-only connection.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import pairwise

from sqlite_utils import Database

from crawler.config import SEEDS_SOURCE
from crawler.dates import format_duration, from_iso, to_iso
from crawler.state import SourceState, get_source_states

# How far back runs are read: enough for `silent` to learn a weekly source's rhythm.
HISTORY = timedelta(days=30)
# `silent`: no new entry for SILENT_FACTOR × the usual gap between new entries, at least
# SILENT_MIN, learned from at least SILENT_MIN_GAPS gaps.
SILENT_FACTOR = 3
SILENT_MIN = timedelta(hours=24)
SILENT_MIN_GAPS = 3
DEFAULT_MAX_FAILING = timedelta(hours=6)
CODES = (
    "failing",
    "no_entries",
    "all_blocked",
    "fallback",
    "redirected",
    "dates_missing",
    "silent",
)

Figures = Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Health:
    """One health problem of a source: a stable code, since when (UTC ISO-8601), and why."""

    code: str
    since: str
    detail: str


@dataclass(frozen=True, slots=True)
class Run:
    """One finished crawl's figures for one source."""

    started_at: datetime
    figures: Figures


@dataclass(frozen=True, slots=True)
class Rule:
    """A code that holds when `check` says so for `runs` runs in a row.

    `check` gives a detail when the run shows the problem, "" when it shows none, and None
    when the run says nothing either way (nothing fetched): such runs are skipped.
    """

    code: str
    check: Callable[[Figures], str | None]
    runs: int = 1


def _no_entries(f: Figures) -> str | None:
    if _get(f, "lists_read") - _get(f, "not_modified") <= 0:
        return None  # no list answered with a body this run
    empty = _get(f, "empty_lists")
    return f"{empty} feed(s)/list(s) answered 200 with no entry" if empty else ""


def _all_blocked(f: Figures) -> str | None:
    read, blocked = _pages(f), _get(f, "blocked")
    if read + blocked == 0:
        return None
    return f"all {blocked} page(s) fetched were blocked" if read == 0 else ""


def _fallback(f: Figures) -> str | None:
    read, fallback = _pages(f), _get(f, "fallback_extracted")
    if read == 0:
        return None
    if fallback * 2 <= read:
        return ""
    return (
        f"{fallback} of {read} page(s) needed the generic fallback; "
        "run `followup check-sites` to see what the site module no longer reads"
    )


def _redirected(f: Figures) -> str | None:
    if redirected := _get(f, "redirected"):
        return f"{redirected} page(s)/list(s) redirected off the site (see seen.detail)"
    # Only pages fetched without a redirect clear it: a run that fetched none says nothing.
    return "" if _pages(f) + _get(f, "blocked") else None


def _dates_missing(f: Figures) -> str | None:
    articles = _pages(f) + _get(f, "feed_articles")
    if articles == 0:
        return None
    undated = _get(f, "undated")
    return f"{undated} of {articles} article(s) without a date" if undated * 5 > articles else ""


RULES = (
    Rule("no_entries", _no_entries, runs=2),
    Rule("all_blocked", _all_blocked, runs=2),
    Rule("fallback", _fallback),
    Rule("redirected", _redirected),
    Rule("dates_missing", _dates_missing),
)


def run_problems(figures: Figures) -> list[str]:
    """The codes one run's figures show on their own (a streak rule's first run included)."""
    return [rule.code for rule in RULES if rule.check(figures)]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One finished run of one source as the rules see it: bit i of `telling` when RULES[i]
    says something about the run, of `problems` when it shows RULES[i]'s problem (a row of
    crawl_run_sources, or `judge` of a Run's figures)."""

    started_at: str  # UTC ISO-8601, as crawl_runs keeps it: most are never read as a time
    telling: int
    problems: int
    new_entries: int
    run_id: int = 0


# The figures of the run a verdict came from (read only for a streak's detail).
FiguresOf = Callable[[Verdict], Figures]


def judge(figures: Figures) -> tuple[int, int]:
    """(telling, problems): the bits of the rules a run's figures tell about and fail."""
    telling = problems = 0
    for bit, rule in enumerate(RULES):
        detail = rule.check(figures)
        telling |= (detail is not None) << bit
        problems |= bool(detail) << bit
    return telling, problems


def find_health(
    runs: Sequence[Run],
    state: SourceState | None = None,
    *,
    now: datetime,
    max_failing: timedelta = DEFAULT_MAX_FAILING,
) -> list[Health]:
    """The health codes of one source from its runs (oldest first) and daemon state."""
    verdicts = [
        Verdict(_iso(run.started_at), *judge(run.figures), new_entries(run.figures), run_id=i)
        for i, run in enumerate(runs)
    ]
    return judge_health(
        verdicts,
        state,
        now=now,
        max_failing=max_failing,
        last_run_at=verdicts[-1].started_at if verdicts else None,
        figures_of=lambda v: runs[v.run_id].figures,
    )


def judge_health(
    verdicts: Sequence[Verdict],
    state: SourceState | None,
    *,
    now: datetime,
    max_failing: timedelta,
    last_run_at: str | None,
    figures_of: FiguresOf,
) -> list[Health]:
    """The health codes of one source from the verdicts of its runs (oldest first; those that
    tell no rule anything and brought nothing new may be left out), the start of its last run
    and its daemon state."""
    found = [h for h in (_failing(state, now=now, max_failing=max_failing),) if h]
    found += [h for bit, rule in enumerate(RULES) if (h := _streak(bit, verdicts, figures_of))]
    if last_run_at and (silent := _silent(verdicts, from_iso(last_run_at), now=now)):
        found.append(silent)
    return found


def _streak(bit: int, verdicts: Sequence[Verdict], figures_of: FiguresOf) -> Health | None:
    """RULES[bit]'s Health when its latest `runs` telling runs all showed the problem; the
    detail is the latest one's."""
    rule, mask = RULES[bit], 1 << bit
    streak: list[Verdict] = []
    for verdict in reversed(verdicts):
        if not verdict.telling & mask:
            continue
        if not verdict.problems & mask:
            break
        streak.append(verdict)
    if len(streak) < rule.runs:
        return None
    suffix = f" ({len(streak)} runs in a row)" if rule.runs > 1 else ""
    detail = rule.check(figures_of(streak[0])) or ""
    return Health(rule.code, streak[-1].started_at, detail + suffix)


def _failing(state: SourceState | None, *, now: datetime, max_failing: timedelta) -> Health | None:
    """Today's failure rule: failing for longer than max_failing."""
    if state is None or state.failing_since is None or now - state.failing_since <= max_failing:
        return None
    return Health(
        "failing",
        _iso(state.failing_since),
        f"{state.consecutive_failures} runs in a row: {state.last_error}",
    )


def _silent(verdicts: Sequence[Verdict], last_run_at: datetime, *, now: datetime) -> Health | None:
    """No new entry for much longer than the source's usual gap between new entries."""
    arrivals = [from_iso(v.started_at) for v in verdicts if v.new_entries > 0]
    if len(arrivals) < SILENT_MIN_GAPS + 1 or last_run_at <= arrivals[-1]:
        return None  # too little history, or not polled since its last new entry
    usual = timedelta(
        seconds=statistics.median((b - a).total_seconds() for a, b in pairwise(arrivals))
    )
    quiet = now - arrivals[-1]
    if quiet <= max(usual * SILENT_FACTOR, SILENT_MIN):
        return None
    return Health(
        "silent",
        _iso(arrivals[-1]),
        f"no new entry for {format_duration(_minutes(quiet))}; "
        f"usually one every {format_duration(_minutes(usual))}",
    )


def new_entries(figures: Figures) -> int:
    """Entries of a run's feeds and lists not seen on earlier runs."""
    return max(_get(figures, "entries") - _get(figures, "already_seen"), 0)


def get_health(
    db: Database, *, now: datetime, max_failing: timedelta = DEFAULT_MAX_FAILING
) -> dict[str, list[Health]]:
    """Every source's health codes: sources with daemon state or with runs in HISTORY."""
    since = _iso(now - HISTORY)
    states = get_source_states(db)
    last_runs = get_last_runs(db, since=since)
    return {
        source: judge_health(
            list(iter_verdicts(db, source, since=since)),
            states.get(source),
            now=now,
            max_failing=max_failing,
            last_run_at=last_runs.get(source),
            figures_of=partial(_stored_figures, db, source),
        )
        for source in sorted({*states, *last_runs} - {SEEDS_SOURCE})
    }


def get_last_runs(db: Database, *, since: str) -> dict[str, str]:
    """The start of each source's last finished run, for sources with one since a time."""
    last = {}
    for source in iter_run_sources(db):
        (started_at,) = db.execute(
            "SELECT max(started_at) FROM crawl_run_sources WHERE source = ?", [source]
        ).fetchone()
        if started_at >= since:
            last[source] = started_at
    return last


def iter_run_sources(db: Database) -> Iterator[str]:
    """Every source of crawl_run_sources, one index seek each (a skip scan)."""
    rows = db.execute(
        """WITH RECURSIVE s(source) AS (
               SELECT min(source) FROM crawl_run_sources
               UNION ALL
               SELECT (SELECT min(source) FROM crawl_run_sources WHERE source > s.source)
               FROM s WHERE s.source IS NOT NULL)
           SELECT source FROM s WHERE source IS NOT NULL"""
    )
    return (source for (source,) in rows)


def iter_verdicts(db: Database, source: str, *, since: str) -> Iterator[Verdict]:
    """A source's verdicts since a time, oldest first: those that tell a rule something or
    brought new entries (the others change no code)."""
    rows = db.execute(
        """SELECT started_at, telling, problems, new_entries, run_id FROM crawl_run_sources
           WHERE source = ? AND started_at >= ? AND (telling != 0 OR new_entries > 0)
           ORDER BY started_at, run_id""",
        [source, since],
    )
    return (Verdict(*row) for row in rows)


def _stored_figures(db: Database, source: str, verdict: Verdict) -> Figures:
    """One source's figures of the run a verdict came from."""
    row = db.execute("SELECT stats FROM crawl_runs WHERE id = ?", [verdict.run_id]).fetchone()
    figures: Figures = json.loads(row[0] or "{}").get("sources", {}).get(source, {}) if row else {}
    return figures


def record_verdicts(
    db: Database, run_id: int, started_at: str, summary: Mapping[str, Figures]
) -> None:
    """Save a finished run's per-source figures as status and the rules read them."""
    db.conn.executemany(
        """INSERT INTO crawl_run_sources (source, started_at, run_id, new, duplicates,
               irrelevant, new_entries, telling, problems) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [(source, started_at, run_id, *verdict_row(f)) for source, f in summary.items()],
    )


def verdict_row(figures: Figures) -> tuple[int, ...]:
    """crawl_run_sources' new, duplicates, irrelevant, new_entries, telling, problems."""
    counted = (_get(figures, event) for event in ("new", "duplicates", "irrelevant"))
    return (*counted, new_entries(figures), *judge(figures))


def get_runs(db: Database, *, since: datetime) -> dict[str, list[Run]]:
    """Per source, the finished runs started since a time, oldest first."""
    runs: dict[str, list[Run]] = {}
    rows = db.execute(
        "SELECT started_at, stats FROM crawl_runs WHERE started_at >= ? AND stats IS NOT NULL "
        "ORDER BY started_at, id",
        [to_iso(since)],
    )
    for started_at, stats in rows:
        for source, figures in json.loads(stats).get("sources", {}).items():
            runs.setdefault(source, []).append(Run(from_iso(started_at), figures))
    return runs


def _get(figures: Figures, event: str) -> int:
    return int(figures.get(event, 0))


def _pages(figures: Figures) -> int:
    """Article pages read this run, by the site module or the generic fallback."""
    return _get(figures, "site_extracted") + _get(figures, "fallback_extracted")


def _minutes(value: timedelta) -> timedelta:
    return timedelta(minutes=max(int(value.total_seconds() // 60), 1))


def _iso(moment: datetime) -> str:
    iso = to_iso(moment)
    assert iso is not None
    return iso
