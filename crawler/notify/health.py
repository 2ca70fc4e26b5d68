"""Source health for notifications: the problems reported now, diffed against those sent.

`diff_health` is the whole rule (a problem is announced once when it starts and once when it
clears); `get_problems` is where the list of current problems comes from. Today that is
`followup status`'s own rule (crawler/status.py: failing, or overdue, for longer than
--max-failing); a richer health function replaces the body of `get_problems`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlite_utils import Database

from crawler.dates import from_iso, to_iso
from crawler.notify.messages import HealthEvent
from crawler.status import get_status

# `followup status --max-failing`'s default: the same problems the health check alerts on.
MAX_FAILING = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class Problem:
    """A source problem reported now: its code (failing, overdue, …) and what it is."""

    source: str
    code: str
    detail: str
    since: str | None = None  # UTC ISO-8601, when known


def get_problems(
    db: Database, *, now: datetime, max_failing: timedelta = MAX_FAILING
) -> list[Problem]:
    """The source problems `followup status` reports now."""
    problems = []
    for status in get_status(db, now=now, max_failing=max_failing):
        if status.problem is None:
            continue
        failing = status.failing_since and now - from_iso(status.failing_since) > max_failing
        code, since = ("failing", status.failing_since) if failing else ("overdue", None)
        problems.append(Problem(status.source, code, status.problem, since))
    return problems


def diff_health(
    current: Sequence[Problem], announced: Sequence[HealthEvent], *, now: datetime
) -> list[HealthEvent]:
    """What to tell a target: problems that started since it was last told, and announced
    problems that are no longer reported (cleared)."""
    reported = {(p.source, p.code): p for p in current}
    told = {(e.source, e.code): e for e in announced}
    started = [
        HealthEvent(p.source, p.code, p.detail, "start", p.since or to_iso(now) or "")
        for key, p in reported.items()
        if key not in told
    ]
    cleared = [replace(e, state="clear") for key, e in told.items() if key not in reported]
    return started + cleared
