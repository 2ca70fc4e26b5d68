"""What the daemon remembers of each source between runs and restarts (table source_state)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from crawler.dates import from_iso, to_iso

COLUMNS = (
    "source",
    "interval_seconds",
    "consecutive_failures",
    "failing_since",
    "last_run_at",
    "last_success_at",
    "last_error",
    "last_run_id",
    "next_run_at",
)


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's polling state: its current interval, its failures, its last and next runs."""

    source: str
    interval: timedelta
    consecutive_failures: int = 0
    failing_since: datetime | None = None  # when the current run of failures began
    last_run_at: datetime | None = None  # when the last run ended, whatever its outcome
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_run_id: int | None = None  # its crawl_runs row
    next_run_at: datetime | None = None


def get_source_states(db: Database) -> dict[str, SourceState]:
    """Every stored source state, by source id."""
    return {
        row["source"]: _from_row(row)
        for row in db.query("SELECT * FROM source_state ORDER BY source")
    }


def save_source_state(db: Database, state: SourceState) -> None:
    """Store a source's state, replacing the previous one."""
    marks = ", ".join("?" * len(COLUMNS))
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    db.execute(
        f"INSERT INTO source_state ({', '.join(COLUMNS)}) VALUES ({marks}) "
        f"ON CONFLICT(source) DO UPDATE SET {updates}",
        [
            state.source,
            state.interval.total_seconds(),
            state.consecutive_failures,
            to_iso(state.failing_since),
            to_iso(state.last_run_at),
            to_iso(state.last_success_at),
            state.last_error,
            state.last_run_id,
            to_iso(state.next_run_at),
        ],
    )


def forget_other_sources(db: Database, keep: Sequence[str]) -> list[str]:
    """Delete the state of sources no longer in sources.toml; returns their ids.

    Otherwise `followup status` would report a removed source as overdue for ever.
    """
    gone = [source for source in get_source_states(db) if source not in keep]
    for source in gone:
        db.execute("DELETE FROM source_state WHERE source = ?", [source])
    return gone


def _from_row(row: dict[str, Any]) -> SourceState:
    return SourceState(
        source=row["source"],
        interval=timedelta(seconds=row["interval_seconds"]),
        consecutive_failures=row["consecutive_failures"],
        failing_since=_time(row["failing_since"]),
        last_run_at=_time(row["last_run_at"]),
        last_success_at=_time(row["last_success_at"]),
        last_error=row["last_error"],
        last_run_id=row["last_run_id"],
        next_run_at=_time(row["next_run_at"]),
    )


def _time(value: str | None) -> datetime | None:
    return from_iso(value) if value else None
