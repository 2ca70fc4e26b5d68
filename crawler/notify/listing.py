"""Notification tables for people: targets (in `followup status`) and undelivered rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crawler.status import ERROR_COLUMN_CHARS, ago
from crawler.tables import clip, format_table


def format_targets(targets: Sequence[dict[str, Any]], *, now: datetime) -> str:
    """One row per notification target: last success and failure, pending and failed rows."""
    headers = ["target", "url", "last success", "last failure", "pending", "failed", "error"]
    rows = [
        [
            t["target"],
            t["url"],
            ago(t["last_success_at"], now),
            ago(t["last_failure_at"], now),
            str(t["pending"]),
            str(t["failed"]),
            clip(t["last_error"] or "", ERROR_COLUMN_CHARS),
        ]
        for t in targets
    ]
    return format_table(headers, rows)


def format_undelivered(rows: Sequence[dict[str, Any]]) -> str:
    """One line per undelivered notification: what it is, its attempts and last error."""
    headers = ["id", "target", "kind", "attempts", "next try", "about", "error"]
    table = [
        [
            str(r["id"]),
            r["target"],
            r["kind"],
            str(r["attempts"]),
            r["next_attempt_at"] if r["status"] == "pending" else "-",
            clip(_about(r), 40),
            clip(r["last_error"] or "", ERROR_COLUMN_CHARS),
        ]
        for r in rows
    ]
    return format_table(headers, table)


def _about(row: dict[str, Any]) -> str:
    """What an undelivered row announces: an article's title, a digest's end, a health change."""
    if row["event"]:
        event = json.loads(row["event"])
        return f"{event['source']}: {event['code']} ({event['state']})"
    return str(row["title"] or (f"digest until {row['period_end']}" if row["period_end"] else ""))
