"""The notifications table: messages owed to targets, written with what they announce.

A row is pending until a sender delivers it (sent) or gives up after `Backoff.give_up`
(failed). Article rows are written by `save_article_rows` inside the transaction that
stores the article, so a crash can delay a message but never lose it; the UNIQUE
(target, dedupe_key) makes planning the same message twice harmless.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from crawler.dates import from_iso, to_iso
from crawler.notify.messages import HealthEvent, digest_period
from crawler.notify.targets import Target
from crawler.rows import select

ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Backoff:
    """When a failed delivery is tried again: `first`, then twice as long each time, the
    last try `give_up` after the message was due; then the row is marked failed."""

    first: timedelta = timedelta(minutes=1)
    give_up: timedelta = timedelta(hours=6)

    def next_try(self, *, attempts: int, due: datetime, now: datetime) -> datetime | None:
        """When to try again after `attempts` failures, or None to give up."""
        deadline = due + self.give_up
        if now >= deadline:
            return None
        return min(now + self.first * 2 ** (attempts - 1), deadline)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One owed message as the sender reads it."""

    id: int
    target: str
    kind: str  # article, digest or health
    attempts: int
    due: datetime  # when it became due: the give-up clock starts here
    article_id: int | None = None
    period: tuple[datetime, datetime] | None = None
    event: HealthEvent | None = None


def plan_article_rows(
    article_id: int, topics: Sequence[str], targets: Iterable[Target], *, now: datetime
) -> list[dict[str, Any]]:
    """The rows a new article owes: one per `each` target, its period's digest per `digest`."""
    rows = []
    for target in targets:
        if not target.wants(topics):
            continue
        if target.mode == "each":
            key = f"article:{article_id}"
            rows.append(_row(target.id, "article", key, now, now=now, article_id=article_id))
            continue
        start, end = digest_period(now, target)
        period = {"period_start": to_iso(start), "period_end": to_iso(end)}
        rows.append(_row(target.id, "digest", f"digest:{to_iso(end)}", end, now=now, **period))
    return rows


def plan_health_row(target: str, event: HealthEvent, *, now: datetime) -> dict[str, Any]:
    """The row that tells `target` a problem started or cleared."""
    key = f"health:{event.source}:{event.code}:{event.since}:{event.state}"
    event_json = json.dumps(asdict(event), ensure_ascii=False)
    return _row(target, "health", key, now, now=now, event=event_json)


def _row(
    target: str, kind: str, key: str, due: datetime, *, now: datetime, **columns: Any
) -> dict[str, Any]:
    return {
        "target": target,
        "kind": kind,
        "dedupe_key": key,
        "created_at": to_iso(now),
        "next_attempt_at": to_iso(due),
        **columns,
    }


def save_rows(db: Database, rows: Iterable[dict[str, Any]]) -> None:
    """Insert owed messages; one already owed (same target and key) is left as it is."""
    for row in rows:
        columns = ", ".join(row)
        marks = ", ".join("?" * len(row))
        db.execute(
            f"INSERT INTO notifications ({columns}) VALUES ({marks}) "
            "ON CONFLICT(target, dedupe_key) DO NOTHING",
            list(row.values()),
        )


def save_article_rows(
    db: Database,
    article_id: int,
    topics: Sequence[str],
    targets: Sequence[Target],
    *,
    now: datetime,
) -> None:
    """Owe every interested target a message about a new article (call in its transaction)."""
    if targets:
        save_rows(db, plan_article_rows(article_id, topics, targets, now=now))


def withdraw_article_rows(db: Database, article_id: int) -> None:
    """Drop the messages still owed about a stored story that turned out to be a topic's known
    coverage (the store marks it baseline then): known coverage is never announced as new.
    Rows already sent or given up stay, the record of what happened."""
    # status first: the notifications_due index narrows the search to the pending rows.
    db.execute(
        "DELETE FROM notifications WHERE status = 'pending' AND article_id = ?", [article_id]
    )


def withdraw_rows(db: Database, rows: Sequence[OutboxRow]) -> None:
    """Drop pending rows left with nothing to say (a digest whose every article turned out to
    be known coverage: no empty digests)."""
    db.conn.executemany(
        "DELETE FROM notifications WHERE id = ? AND status = 'pending'", [(row.id,) for row in rows]
    )


# Reads ----------------------------------------------------------------------------------------


def get_due(db: Database, *, now: datetime) -> list[OutboxRow]:
    """Pending rows whose time has come, by target, oldest first."""
    rows = select(
        db,
        """SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= ?
           ORDER BY target, id""",
        [to_iso(now)],
    )
    return [_outbox_row(row) for row in rows]


def _outbox_row(row: dict[str, Any]) -> OutboxRow:
    period = None
    if row["period_start"] and row["period_end"]:
        period = (from_iso(row["period_start"]), from_iso(row["period_end"]))
    return OutboxRow(
        id=row["id"],
        target=row["target"],
        kind=row["kind"],
        attempts=row["attempts"],
        due=period[1] if period else from_iso(row["created_at"]),
        article_id=row["article_id"],
        period=period,
        event=HealthEvent(**json.loads(row["event"])) if row["event"] else None,
    )


def get_undelivered(db: Database, *, failed: bool = False) -> list[dict[str, Any]]:
    """Pending rows (or, with failed, the rows given up on), oldest first, with the article
    title where there is one."""
    return list(
        db.query(
            """SELECT n.id, n.target, n.kind, n.status, n.attempts, n.created_at,
                      n.next_attempt_at, n.last_error, n.period_end, n.event, a.title, a.url
               FROM notifications n LEFT JOIN articles a ON a.id = n.article_id
               WHERE n.status = ? ORDER BY n.id""",
            ["failed" if failed else "pending"],
        )
    )


def get_target_summaries(db: Database) -> list[dict[str, Any]]:
    """Per target: masked URL, last success and failure, pending and failed counts."""
    return list(
        db.query(
            """SELECT t.target, t.url, t.last_success_at, t.last_failure_at, t.last_error,
                 (SELECT count(*) FROM notifications n
                  WHERE n.target = t.target AND n.status = 'pending') AS pending,
                 (SELECT count(*) FROM notifications n
                  WHERE n.target = t.target AND n.status = 'failed') AS failed
               FROM notify_targets t ORDER BY t.target"""
        )
    )


# Writes after a delivery ---------------------------------------------------------------------


def mark_sent(db: Database, rows: Sequence[OutboxRow], *, now: datetime) -> None:
    """Rows delivered: never sent again."""
    db.conn.executemany(
        "UPDATE notifications SET status = 'sent', sent_at = ?, attempts = attempts + 1 "
        "WHERE id = ?",
        [(to_iso(now), row.id) for row in rows],
    )


def mark_attempt_failed(
    db: Database, rows: Sequence[OutboxRow], error: str, *, now: datetime, backoff: Backoff
) -> int:
    """Rows not delivered: tried again later, or failed for good. Returns how many gave up."""
    given_up = 0
    for row in rows:
        retry = backoff.next_try(attempts=row.attempts + 1, due=row.due, now=now)
        given_up += retry is None
        db.execute(
            """UPDATE notifications SET attempts = attempts + 1, last_error = ?,
                 status = ?, next_attempt_at = coalesce(?, next_attempt_at) WHERE id = ?""",
            [error[:ERROR_CHARS], "failed" if retry is None else "pending", to_iso(retry), row.id],
        )
    return given_up


def save_target_result(db: Database, target: Target, *, error: str | None, now: datetime) -> None:
    """Remember a target's last success, or its last failure and why."""
    column = "last_failure_at" if error else "last_success_at"
    db.execute(
        f"""INSERT INTO notify_targets (target, url, {column}, last_error) VALUES (?, ?, ?, ?)
            ON CONFLICT(target) DO UPDATE SET url = excluded.url, {column} = excluded.{column},
              last_error = coalesce(excluded.last_error, notify_targets.last_error)""",
        [target.id, target.shown, to_iso(now), error[:ERROR_CHARS] if error else None],
    )


# Health ---------------------------------------------------------------------------------------


def get_announced(db: Database, target: str) -> list[HealthEvent]:
    """The problems `target` was told have started and not yet that they cleared."""
    rows = select(
        db, "SELECT * FROM notify_health WHERE target = ? ORDER BY source, code", [target]
    )
    return [HealthEvent(r["source"], r["code"], r["detail"], "start", r["since"]) for r in rows]


def save_health_changes(
    db: Database, target: str, changes: Sequence[HealthEvent], *, now: datetime
) -> None:
    """Owe `target` a message per change and remember what it has been told (one transaction)."""
    with db.atomic():
        for event in changes:
            if event.state == "start":
                db.execute(
                    """INSERT INTO notify_health (target, source, code, detail, since)
                       VALUES (?, ?, ?, ?, ?) ON CONFLICT (target, source, code)
                       DO UPDATE SET detail = excluded.detail, since = excluded.since""",
                    [target, event.source, event.code, event.detail, event.since],
                )
            else:
                db.execute(
                    "DELETE FROM notify_health WHERE target = ? AND source = ? AND code = ?",
                    [target, event.source, event.code],
                )
            save_rows(db, [plan_health_row(target, event, now=now)])
