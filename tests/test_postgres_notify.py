"""Notifications on a PostgreSQL store: rows owed in the transaction that stores an article,
delivered once, health changes recorded, and one sender at a time across machines (an
advisory lock in place of the lock file)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.dates import utcnow
from crawler.notify.messages import digest_period
from crawler.notify.sender import SenderBusy, run_round, send_pending, sender_lock
from crawler.state import SourceState, save_source_state
from crawler.store import open_store
from tests.pg import pg_rows, pg_url  # noqa: F401 (a fixture)
from tests.services import postgres  # noqa: F401 (a fixture)
from tests.test_notify_delivery import (
    OPTIONS,
    Webhook,
    article,
    ingest,
    repost_then_seed,
    rows_owed,
    save_run,
    target,
    webhook,  # noqa: F401 (a fixture)
)


def test_one_message_per_article_and_one_sender_at_a_time(
    pg_url: str,  # noqa: F811
    webhook: Webhook,  # noqa: F811
) -> None:
    store = open_store(pg_url)
    desk = target(webhook.url())
    ingest(store, [desk], article(1), article(2))
    store.close()
    pending = CliRunner().invoke(cli, ["notify", "pending", "--db", pg_url, "--json"])
    assert [row["title"][:3] for row in json.loads(pending.stdout)] == ["第1篇", "第2篇"]
    busy = pytest.raises(SenderBusy, match="another process has been sending")
    with sender_lock(pg_url, wait=timedelta(0)), busy:  # a sender on another machine
        send_pending(pg_url, [desk], options=replace(OPTIONS, lock_wait=timedelta(0)))
    assert webhook.requests == []
    first, second = send_pending(pg_url, [desk]), send_pending(pg_url, [desk])
    assert (first.counts["sent"], second.counts["sent"]) == (2, 0)
    assert len(webhook.requests) == 2
    assert pg_rows(pg_url, "SELECT status, count(*) FROM notifications GROUP BY 1") == [("sent", 2)]


def test_a_health_problem_is_announced_once_when_it_starts_and_once_when_it_clears(
    pg_url: str,  # noqa: F811
    webhook: Webhook,  # noqa: F811
) -> None:
    ops = target(webhook.url(), id="ops", events=("health",))
    store = open_store(pg_url)
    save_source_state(store.db, SourceState("cnbeta", timedelta(minutes=15)))
    now = utcnow()
    save_run(store, now - timedelta(minutes=20), {"cnbeta": {"fallback_extracted": 4}})
    for _ in range(2):
        send_pending(pg_url, [ops])
    assert pg_rows(pg_url, "SELECT target, source, code FROM notify_health") == [
        ("ops", "cnbeta", "fallback")
    ]
    save_run(store, now - timedelta(minutes=5), {"cnbeta": {"site_extracted": 4}})
    store.close()
    send_pending(pg_url, [ops])
    assert [m["title"] for m in webhook.delivered] == [
        "followup: source cnbeta: fallback",
        "followup: source cnbeta: fallback cleared",
    ]
    assert pg_rows(pg_url, "SELECT count(*) FROM notify_health") == [(0,)]


def test_messages_owed_for_a_story_that_turns_out_known_are_withdrawn(
    pg_url: str,  # noqa: F811
    webhook: Webhook,  # noqa: F811
) -> None:
    desk = target(webhook.url())
    daily = target(webhook.url(), id="daily", mode="digest", every=timedelta(days=1))
    store = open_store(pg_url)
    try:
        repost_then_seed(store, [desk, daily], seed_earlier=True)
        assert rows_owed(store) == [("daily", "digest", "pending")]
        _, end = digest_period(utcnow(), daily)
        result = run_round(store.db, [desk, daily], now=end, options=OPTIONS)
        assert result.counts["sent"] == 0 and not result.errors and webhook.requests == []
        assert rows_owed(store) == []
    finally:
        store.close()
