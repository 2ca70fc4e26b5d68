"""A delivery round: health changes into the outbox, then every due row to its target.

One sender at a time per database (crawler/locks.py: an flock beside a SQLite file, an
advisory lock in PostgreSQL), so two processes never deliver the same row; a sender killed
mid-round leaves its rows pending and the next one delivers them (at-least-once, the row ids
in each message).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from crawler.coverage import Coverage, Selection, iter_coverage
from crawler.dates import to_iso, utcnow
from crawler.locks import open_locks, wait_for
from crawler.notify.deliver import DeliveryError, send_message
from crawler.notify.health import MAX_FAILING, diff_health, get_problems
from crawler.notify.messages import (
    Message,
    article_message,
    burst_message,
    digest_message,
    health_message,
)
from crawler.notify.outbox import (
    Backoff,
    OutboxRow,
    get_announced,
    get_due,
    mark_attempt_failed,
    mark_sent,
    save_health_changes,
    save_target_result,
    withdraw_rows,
)
from crawler.notify.targets import Target
from crawler.postgres import mask_url
from crawler.store import open_store

logger = logging.getLogger(__name__)

# How long a sender waits for another one (the daemon's) to finish its round.
LOCK_WAIT = timedelta(minutes=5)
LOCK_POLL_SECONDS = 0.2


class SenderBusy(RuntimeError):
    """Another process kept the sender lock for longer than the wait."""


@dataclass(slots=True)
class RoundResult:
    """What a delivery round did: messages sent, attempts failed, rows given up on."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items())) or "nothing due"
        return "; ".join([text, *self.errors])


@dataclass(frozen=True, slots=True)
class SenderOptions:
    """How a round runs; tests shorten the backoff and pass their own clock."""

    backoff: Backoff = field(default_factory=Backoff)
    max_failing: timedelta = MAX_FAILING
    lock_wait: timedelta = LOCK_WAIT


def send_pending(
    db_path: str | Path,
    targets: Sequence[Target],
    *,
    now: datetime | None = None,
    options: SenderOptions | None = None,
) -> RoundResult:
    """One round on a database file, holding the sender lock."""
    options = options or SenderOptions()
    with sender_lock(db_path, wait=options.lock_wait):
        store = open_store(db_path)
        try:
            return run_round(store.db, targets, now=now or utcnow(), options=options)
        finally:
            store.close()


@contextmanager
def sender_lock(db_path: str | Path, *, wait: timedelta) -> Iterator[None]:
    """Hold the store's notify lock (crawler/locks.py: `<db>-locks/notify.lock`, on PostgreSQL
    an advisory lock: senders may be on other machines), waiting up to `wait` for another
    sender to finish."""
    lock = wait_for(open_locks(db_path).take_notify, wait=wait, poll=LOCK_POLL_SECONDS)
    if lock is None:
        raise _busy(db_path, wait)
    try:
        yield
    finally:
        lock.release()


def _busy(db_path: str | Path, wait: timedelta) -> SenderBusy:
    return SenderBusy(
        f"another process has been sending {mask_url(str(db_path))}'s notifications for "
        f"over {wait}; its rows stay pending for the next round"
    )


def run_round(
    db: Database, targets: Sequence[Target], *, now: datetime, options: SenderOptions
) -> RoundResult:
    """Record health changes, then deliver every due row, target by target."""
    record_health(db, targets, now=now, max_failing=options.max_failing)
    due = get_due(db, now=now)
    result = RoundResult()
    for target in targets:
        rows = [row for row in due if row.target == target.id]
        if rows:
            _deliver(db, target, rows, now=now, backoff=options.backoff, result=result)
    return result


def record_health(
    db: Database, targets: Sequence[Target], *, now: datetime, max_failing: timedelta
) -> None:
    """Owe each health target a message per problem that started or cleared."""
    listeners = [t for t in targets if "health" in t.events]
    if not listeners:
        return
    problems = get_problems(db, now=now, max_failing=max_failing)
    for target in listeners:
        changes = diff_health(problems, get_announced(db, target.id), now=now)
        if changes:
            save_health_changes(db, target.id, changes, now=now)


def _deliver(
    db: Database,
    target: Target,
    rows: list[OutboxRow],
    *,
    now: datetime,
    backoff: Backoff,
    result: RoundResult,
) -> None:
    """Send a target's due rows in order; at its first failure the rest wait for the next round."""
    for batch, message in plan_messages(db, target, rows):
        if message is None:
            with db.atomic():
                withdraw_rows(db, batch)
            continue
        try:
            send_message(target, message)
        except DeliveryError as exc:
            with db.atomic():
                given_up = mark_attempt_failed(db, batch, str(exc), now=now, backoff=backoff)
                save_target_result(db, target, error=str(exc), now=now)
            result.counts["failed"] += 1
            if given_up:
                result.counts["given up"] += given_up
            result.errors.append(f"{target.id}: {exc}")
            logger.warning("notification to %s failed: %s", target.id, exc)
            return
        with db.atomic():
            mark_sent(db, batch, now=now)
            save_target_result(db, target, error=None, now=now)
        result.counts["sent"] += 1


def plan_messages(
    db: Database, target: Target, rows: list[OutboxRow]
) -> list[tuple[list[OutboxRow], Message | None]]:
    """The messages that deliver a target's rows: one per article, or one summary of a burst
    of more than `burst`; one per digest period (None: nothing left to say); one per health
    change."""
    articles = [row for row in rows if row.kind == "article"]
    coverage = _coverage(db, target, [row.article_id for row in articles if row.article_id])
    planned: list[tuple[list[OutboxRow], Message | None]] = []
    if len(articles) > target.burst:
        items = [coverage[row.article_id] for row in articles if row.article_id in coverage]
        planned.append((articles, burst_message(items, row_ids=[row.id for row in articles])))
    else:
        planned += [
            ([row], article_message(coverage[row.article_id], row_id=row.id))
            for row in articles
            if row.article_id in coverage
        ]
    for row in rows:
        if row.kind == "digest" and row.period is not None:
            planned.append(([row], _digest(db, target, row, row.period)))
        elif row.kind == "health" and row.event is not None:
            planned.append(([row], health_message(row.event, row_id=row.id)))
    return sorted(planned, key=lambda plan: plan[0][0].id)


def _coverage(db: Database, target: Target, ids: Sequence[int]) -> dict[int, Coverage]:
    """The stored articles with these ids, their topics narrowed to the target's."""
    if not ids:
        return {}
    items = iter_coverage(db, selection=Selection(ids=tuple(ids)))
    return {item.id: _narrow(item, target) for item in items}


def _narrow(item: Coverage, target: Target) -> Coverage:
    if not target.topics:
        return item
    return replace(item, topics={t: v for t, v in item.topics.items() if t in target.topics})


def _digest(
    db: Database, target: Target, row: OutboxRow, period: tuple[datetime, datetime]
) -> Message | None:
    """The digest of the new articles stored in a period under the target's topics; None when
    none is left (each turned out to be known coverage after the row was written)."""
    start, end = period
    sql = "SELECT id FROM articles WHERE baseline = 0 AND fetched_at >= ? AND fetched_at < ?"
    params: list[Any] = [to_iso(start), to_iso(end)]
    if target.topics:
        marks = ",".join("?" * len(target.topics))
        sql += f" AND id IN (SELECT article_id FROM article_topics WHERE topic IN ({marks}))"
        params += target.topics
    ids = [r["id"] for r in db.query(sql, params)]
    items = list(_coverage(db, target, ids).values())
    return digest_message(items, start=start, end=end, row_id=row.id) if items else None
