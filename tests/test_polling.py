"""The daemon's polling policy as pure functions: adaptive interval, backoff, jitter, run reports."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crawler.config import Source
from crawler.polling import (
    STOPPING,
    RunReport,
    adapt_interval,
    after_run,
    backoff_delay,
    first_run,
    jitter,
    read_run,
)
from crawler.state import SourceState

EVERY = timedelta(minutes=16)
SOURCE = Source("news", "News", "generic", feeds=("https://a.example/feed",), every=EVERY)
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
MIN, MAX = SOURCE.polling_bounds  # 4 min, 128 min


def polled(entries: int, seen: int, *, not_modified: int = 0, lists: int = 1) -> dict[str, int]:
    return {
        "lists_read": lists,
        "not_modified": not_modified,
        "entries": entries,
        "already_seen": seen,
    }


@pytest.mark.parametrize(
    ("current", "figures", "expected"),
    [
        # Nothing new (every entry seen, the list unchanged, or an empty list): 1.5x longer.
        (EVERY, polled(20, 20), EVERY * 1.5),
        (EVERY, polled(0, 0, not_modified=1), EVERY * 1.5),
        (EVERY, polled(0, 0), EVERY * 1.5),
        (MAX, polled(20, 20), MAX),  # never beyond max_every
        # Something new: back to `every` when lengthened, unchanged otherwise.
        (EVERY * 4, polled(20, 18), EVERY),
        (EVERY, polled(20, 10), EVERY),
        (EVERY / 2, polled(20, 10), EVERY / 2),
        # Mostly new (fewer than a third seen): entries may have been missed, poll sooner.
        (EVERY * 4, polled(20, 5), EVERY),
        (EVERY, polled(20, 5), EVERY / 2),
        (EVERY / 2, polled(20, 0), MIN),
        (MIN, polled(20, 0), MIN),  # never below min_every
        # One of two lists unchanged, the other with news: not "nothing new".
        (EVERY * 2, polled(20, 15, not_modified=1, lists=2), EVERY),
    ],
)
def test_adapt_interval(current: timedelta, figures: dict[str, int], expected: timedelta) -> None:
    assert adapt_interval(current, SOURCE, figures) == expected


def test_backoff_doubles_up_to_max_every() -> None:
    delays = [backoff_delay(EVERY, n, SOURCE) for n in range(1, 7)]
    assert delays == [EVERY * 2, EVERY * 4, EVERY * 8, MAX, MAX, MAX]
    assert backoff_delay(EVERY, 10_000, SOURCE) == MAX


def test_jitter_only_lengthens_by_a_tenth_at_most_a_minute() -> None:
    assert jitter(EVERY, rand=lambda: 0.0) == timedelta(0)
    assert jitter(timedelta(seconds=10), rand=lambda: 1.0) == timedelta(seconds=1)
    assert jitter(timedelta(hours=5), rand=lambda: 1.0) == timedelta(minutes=1)


def state(**changes: Any) -> SourceState:
    return replace(SourceState("news", EVERY, last_success_at=NOW - EVERY), **changes)


def test_a_success_after_a_success_adapts_the_interval() -> None:
    after = after_run(state(), RunReport(polled(20, 20), run_id=7), SOURCE, now=NOW, rand=lambda: 0)
    assert after.interval == EVERY * 1.5 and after.next_run_at == NOW + EVERY * 1.5
    assert (after.last_run_at, after.last_success_at, after.last_run_id) == (NOW, NOW, 7)


def test_the_first_success_and_one_after_failures_keep_the_interval() -> None:
    report = RunReport(polled(20, 20))
    first = after_run(state(last_success_at=None), report, SOURCE, now=NOW, rand=lambda: 0)
    assert first.interval == EVERY  # an empty database makes everything look new
    failing = state(consecutive_failures=3, failing_since=NOW - timedelta(hours=1), last_error="x")
    recovered = after_run(failing, report, SOURCE, now=NOW, rand=lambda: 0)
    assert recovered.interval == EVERY
    assert (recovered.consecutive_failures, recovered.failing_since, recovered.last_error) == (
        0,
        None,
        None,
    )


def test_failures_back_off_and_remember_when_they_began() -> None:
    one = after_run(state(), RunReport(error="HTTP 500"), SOURCE, now=NOW, rand=lambda: 0)
    assert (one.consecutive_failures, one.failing_since, one.last_error) == (1, NOW, "HTTP 500")
    assert one.next_run_at == NOW + EVERY * 2 and one.last_success_at == NOW - EVERY
    later = NOW + timedelta(hours=1)
    two = after_run(one, RunReport(error="HTTP 502"), SOURCE, now=later, rand=lambda: 0)
    assert (two.consecutive_failures, two.failing_since) == (2, NOW)
    assert two.next_run_at == later + EVERY * 4 and two.interval == EVERY


def test_a_run_ended_by_the_daemons_own_stop_is_due_again_at_once() -> None:
    failing = state(consecutive_failures=2, failing_since=NOW - EVERY)
    after = after_run(failing, RunReport(interrupted=True), SOURCE, now=NOW)
    assert after.next_run_at == NOW and after.consecutive_failures == 2


def test_first_run_keeps_a_planned_run_and_runs_an_overdue_one_now() -> None:
    new = first_run(None, SOURCE, now=NOW, rand=lambda: 1.0)
    assert new.interval == EVERY and new.next_run_at == NOW + timedelta(minutes=1)  # 10%, capped
    planned = first_run(state(next_run_at=NOW + timedelta(minutes=5)), SOURCE, now=NOW)
    assert planned.next_run_at == NOW + timedelta(minutes=5)
    overdue = first_run(state(next_run_at=NOW - timedelta(days=2)), SOURCE, now=NOW, rand=lambda: 0)
    assert overdue.next_run_at == NOW
    # Bounds tightened in sources.toml since: the stored interval and plan follow them.
    stale = first_run(
        state(interval=timedelta(days=1), next_run_at=NOW + timedelta(days=1)), SOURCE, now=NOW
    )
    assert stale.interval == MAX and stale.next_run_at == NOW + MAX


def summary(**figures: int) -> str:
    base = {"lists_read": 1, "lists_failed": 0, "entries": 3, "already_seen": 1}
    return json.dumps({"run_id": 4, "sources": {"news": {**base, **figures}}})


def test_read_run() -> None:
    ok = read_run("news", 0, summary(), "")
    assert ok.ok and ok.run_id == 4 and ok.figures is not None and ok.figures["entries"] == 3

    stderr = (
        "2026-11-22 00:15:05 [scrapy.core.scraper] WARNING: something minor\n"
        "2026-11-22 00:15:05 [crawler.spiders.followup] ERROR: source news: cannot read "
        "http://a.example/feed: HTTP 500\n"
        "{'retry/reason_count/500 Internal Server Error': 1,\n"
    )
    failed = read_run("news", 1, summary(lists_read=0, lists_failed=1), stderr)
    assert failed.error == "source news: cannot read http://a.example/feed: HTTP 500"

    crashed = read_run("news", 2, "", "Traceback (most recent call last):\nValueError: bad\n")
    assert crashed.error == "exit status 2: ValueError: bad" and not crashed.ok
    assert read_run("news", -9, "", "").error == "killed by signal 9: no message"
    timed_out = read_run("news", 0, summary(), "", stop_reason="timed out after 20m")
    assert timed_out.error is not None and timed_out.error.startswith("timed out after 20m")
    stopped = read_run("news", -15, "", "", stop_reason=STOPPING)
    assert stopped.interrupted and not stopped.ok and stopped.error is None
