"""Delivering the outbox to real receivers on 127.0.0.1: a JSON webhook and an SMTP server.

In-process: articles go through `ingest_article` into a tmp_path store, a round runs with a
clock the test chooses (so backoff and digest periods are waited for by condition, not time).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import Topic
from crawler.dates import to_iso, utcnow
from crawler.ingest import ingest_article
from crawler.model import Article
from crawler.notify.messages import digest_period
from crawler.notify.outbox import Backoff
from crawler.notify.sender import (
    SenderBusy,
    SenderOptions,
    record_health,
    run_round,
    send_pending,
    sender_lock,
)
from crawler.notify.targets import Target
from crawler.query import parse_query
from crawler.state import SourceState, save_source_state
from crawler.store import Store
from tests.notify_receivers import MailServer, Webhook, row_ids

TOPICS = (
    Topic("interop", "互联互通", parse_query("(淘宝 OR 阿里) AND (微信 OR 腾讯)")),
    Topic("brokers", "券商", parse_query("券商")),
)
PUBLISHED = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)  # 10:30 in Beijing
OPTIONS = SenderOptions(backoff=Backoff(first=timedelta(minutes=1), give_up=timedelta(hours=6)))


def article(n: int, *, words: str = "淘宝 的链接终于可以在 微信 里直接打开") -> Article:
    # Each text differs in most of its words, so no two are near-duplicates.
    filler = "".join(f"第{n}篇第{i}段的内容各不相同，编号{n * 100 + i}。" for i in range(12))
    return Article(
        f"https://a.example/{n}", f"第{n}篇：{words}", f"{words}。\n{filler}", "", PUBLISHED
    )


def target(url: str, **changes: object) -> Target:
    return replace(Target("desk", url, "json://127.0.0.1/***"), **changes)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "followup.db")
    yield store
    store.close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with Webhook() as receiver:
        yield receiver


def ingest(store: Store, targets: list[Target], *articles: Article, baseline: bool = False) -> None:
    for item in articles:
        ingest_article(
            store,
            item,
            source="news",
            topics=TOPICS,
            notify=targets,
            baseline_topic="interop" if baseline else None,
        )


def test_one_message_per_new_article_none_for_duplicates_or_baseline(
    store: Store, webhook: Webhook
) -> None:
    desk = target(webhook.url())
    ingest(store, [desk], article(1), article(2))
    ingest(store, [desk], article(3), baseline=True)
    ingest(store, [desk], replace(article(1), url="https://b.example/copy-of-1"))  # a repost
    ingest(store, [desk], article(4, words="今天天气很好"))  # unrelated

    result = run_round(store.db, [desk], now=utcnow(), options=OPTIONS)

    assert result.counts["sent"] == 2 and not result.errors
    first, second = webhook.delivered
    assert len(webhook.requests) == 2
    assert first["title"] == "第1篇：淘宝 的链接终于可以在 微信 里直接打开"
    lines = first["message"].splitlines()
    assert lines[0] == "news · 2026-11-20 10:30 (Beijing)"
    assert lines[1] == "https://a.example/1"
    assert lines[2] == "interop: 淘宝, 微信"
    assert lines[4].startswith("淘宝 的链接终于可以在 微信 里直接打开。 第1篇第0段")
    assert row_ids(first["message"]) == [1] and row_ids(second["message"]) == [2]
    # Delivered rows are never sent again.
    assert run_round(store.db, [desk], now=utcnow(), options=OPTIONS).counts["sent"] == 0
    assert len(webhook.requests) == 2


def test_targets_get_only_their_topics(store: Store, webhook: Webhook) -> None:
    brokers = target(webhook.url("/brokers"), id="brokers", topics=("brokers",))
    health_only = target(webhook.url("/health"), id="ops", events=("health",))
    ingest(store, [brokers, health_only], article(1), article(2, words="券商 看好 淘宝 与 微信"))
    run_round(store.db, [brokers, health_only], now=utcnow(), options=OPTIONS)
    (only,) = webhook.delivered
    assert only["title"].startswith("第2篇") and "brokers: 券商" in only["message"]
    assert "interop" not in only["message"]  # the target's topics only


def test_a_receiver_answering_500_gets_the_message_once_after_backoff(store: Store) -> None:
    with Webhook(statuses=(500,)) as webhook:
        desk = target(webhook.url())
        ingest(store, [desk], article(1))
        t0 = utcnow()

        failed = run_round(store.db, [desk], now=t0, options=OPTIONS)
        assert failed.counts["failed"] == 1 and "error=500" in failed.errors[0]
        assert (
            run_round(store.db, [desk], now=t0 + timedelta(seconds=59), options=OPTIONS).counts[
                "sent"
            ]
            == 0
        )  # not yet: the first retry is a minute later
        assert len(webhook.requests) == 1

        later = run_round(store.db, [desk], now=t0 + timedelta(minutes=1), options=OPTIONS)
        assert later.counts["sent"] == 1
        assert [status for status, _ in webhook.requests] == [500, 200]
        assert len(webhook.delivered) == 1
    row = next(store.db.query("SELECT status, attempts FROM notifications"))
    assert row == {"status": "sent", "attempts": 2}


def test_retries_back_off_exponentially_then_give_up_after_6h(store: Store, tmp_path: Path) -> None:
    with Webhook(statuses=(503,) * 100) as webhook:
        desk = target(webhook.url())
        ingest(store, [desk], article(1))
        due = utcnow()
        now, waits = due, []
        while True:
            run_round(store.db, [desk], now=now, options=OPTIONS)
            row = next(store.db.query("SELECT * FROM notifications"))
            if row["status"] == "failed":
                break
            following = datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00"))
            waits.append(round((following - now).total_seconds() / 60))
            now = following
    # 1, 2, 4 … minutes, the last try at 6 h after the message was due.
    assert waits[:8] == [1, 2, 4, 8, 16, 32, 64, 128]
    assert now - due <= timedelta(hours=6, seconds=1) and row["attempts"] == len(waits) + 1
    assert "error=503" in row["last_error"]

    status = CliRunner().invoke(cli, ["status", "--db", str(tmp_path / "followup.db")])
    assert "notify target desk: 1 notification(s) given up" in status.stderr
    assert status.stdout.splitlines()[1].split()[:2] == ["target", "url"]
    pending = CliRunner().invoke(
        cli, ["notify", "pending", "--failed", "--db", str(tmp_path / "followup.db")]
    )
    assert pending.exit_code == 0
    assert pending.stdout.splitlines()[1].split()[:4] == ["1", "desk", "article", "10"]


def test_a_burst_becomes_one_summary_message(store: Store, webhook: Webhook) -> None:
    desk = target(webhook.url(), burst=3)
    ingest(store, [desk], *(article(n) for n in range(1, 6)))
    run_round(store.db, [desk], now=utcnow(), options=OPTIONS)
    (summary,) = webhook.delivered
    assert summary["title"] == "followup: 5 new articles"
    assert summary["message"].count("https://a.example/") == 5
    assert row_ids(summary["message"]) == [1, 2, 3, 4, 5]


def test_a_digest_is_sent_once_at_the_end_of_its_period(store: Store, webhook: Webhook) -> None:
    daily = target(webhook.url(), mode="digest", every=timedelta(days=1), at=time(8, 30))
    ingest(store, [daily], article(1), article(2, words="券商 看好 淘宝 与 微信"), article(3))
    start, end = digest_period(utcnow(), daily)
    assert end - start == timedelta(days=1)
    assert (end.astimezone(UTC).hour, end.minute) == (0, 30)  # 08:30 in Beijing

    assert (
        run_round(store.db, [daily], now=end - timedelta(seconds=1), options=OPTIONS).counts["sent"]
        == 0
    )
    run_round(store.db, [daily], now=end, options=OPTIONS)
    run_round(store.db, [daily], now=end + timedelta(hours=1), options=OPTIONS)

    (digest,) = webhook.delivered
    assert len(webhook.requests) == 1
    assert digest["title"].startswith(
        f"followup digest {start.astimezone(UTC) + timedelta(hours=8):%Y-%m-%d} 08:30"
    )
    body = digest["message"]
    assert body.startswith("# followup digest\n\n3 articles.")
    assert "## interop" in body and "## brokers" in body
    assert body.count("](<https://a.example/") == 4  # article 2 under both topics
    assert row_ids(body) == [1]


def test_e_mail_through_a_real_smtp_server(store: Store) -> None:
    with MailServer() as mail:
        desk = target(mail.url(), id="mail")
        ingest(store, [desk], article(1))
        result = run_round(store.db, [desk], now=utcnow(), options=OPTIONS)
        assert result.counts["sent"] == 1, result.errors
        (message,) = mail.messages
    assert message.mail_from == "followup@example.com"
    assert message.rcpt_tos == ["desk@example.com"]
    content = message.content.decode("ascii")
    assert "Subject: =?utf-8?" in content and "followup #1" in content


def test_health_problems_are_sent_once_when_they_start_and_once_when_they_clear(
    store: Store, webhook: Webhook
) -> None:
    ops = target(webhook.url(), id="ops", events=("health",))
    now = utcnow()
    failing = SourceState(
        "broken",
        timedelta(minutes=30),
        consecutive_failures=9,
        failing_since=now - timedelta(hours=7),
        last_error="HTTP 500",
        next_run_at=now + timedelta(minutes=5),
    )
    save_source_state(store.db, failing)
    for _ in range(3):
        run_round(store.db, [ops], now=now, options=OPTIONS)
    (started,) = webhook.delivered
    assert started["title"] == "followup: source broken: failing"
    assert started["message"].startswith("broken: failing for 7h (9 runs in a row): HTTP 500")

    save_source_state(store.db, replace(failing, consecutive_failures=0, failing_since=None))
    for _ in range(2):
        run_round(store.db, [ops], now=now, options=OPTIONS)
    cleared = webhook.delivered[1]
    assert len(webhook.delivered) == 2
    assert cleared["title"] == "followup: source broken: failing cleared"
    assert cleared["message"].startswith("was: broken: failing for 7h")


def save_run(store: Store, started: datetime, figures: dict[str, dict[str, int]]) -> None:
    """A finished crawl run with these per-source figures, as a crawl records it (the
    figures in crawl_runs.stats and, since m013_scale, each source's in crawl_run_sources)."""
    run_id = store.start_run(list(figures))
    store.finish_run(run_id, {"sources": figures})
    store.db.execute("UPDATE crawl_runs SET started_at = ? WHERE id = ?", [to_iso(started), run_id])


def test_a_health_code_of_status_starts_and_clears_like_failing(
    store: Store, webhook: Webhook
) -> None:
    ops = target(webhook.url(), id="ops", events=("health",))
    now = utcnow()
    save_source_state(store.db, SourceState("cnbeta", timedelta(minutes=15)))
    # The site module read none of the four pages: the generic fallback did.
    save_run(store, now - timedelta(minutes=20), {"cnbeta": {"fallback_extracted": 4}})
    run_round(store.db, [ops], now=now, options=OPTIONS)
    (started,) = webhook.delivered
    assert started["title"] == "followup: source cnbeta: fallback"
    assert "4 of 4 page(s) needed the generic fallback" in started["message"]

    save_run(store, now - timedelta(minutes=5), {"cnbeta": {"site_extracted": 4}})
    run_round(store.db, [ops], now=now, options=OPTIONS)
    assert [m["title"] for m in webhook.delivered] == [
        "followup: source cnbeta: fallback",
        "followup: source cnbeta: fallback cleared",
    ]


def test_notify_test_pending_send_and_status_on_the_command_line(
    tmp_path: Path, store: Store
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "sources.toml").write_text(
        '[[source]]\nid = "news"\nfeeds = ["https://a.example/f"]\n'
    )
    (seeds / "topics.toml").write_text('[[topic]]\nid = "interop"\nquery = "淘宝 AND 微信"\n')
    db = str(tmp_path / "followup.db")
    runner = CliRunner()
    with Webhook(statuses=(200, 500)) as webhook:
        (seeds / "notify.toml").write_text(f'[[notify]]\nid = "desk"\nurl = "{webhook.url()}"\n')
        tested = runner.invoke(cli, ["notify", "test", "--seeds", str(seeds)])
        assert tested.exit_code == 0, tested.output
        port = webhook.server.server_port
        assert tested.stdout == f"desk  json://127.0.0.1:{port}/***  sent\n"
        assert webhook.delivered[0]["title"] == "followup: test message to desk"

        desk = target(webhook.url())
        ingest(store, [desk], article(1), article(2))
        pending = runner.invoke(cli, ["notify", "pending", "--db", db, "--json"])
        assert [row["title"][:3] for row in json.loads(pending.stdout)] == [
            "第1篇",
            "第2篇",
        ]
        sent = runner.invoke(cli, ["notify", "send", "--seeds", str(seeds), "--db", db])
        assert sent.exit_code == 1  # the receiver answered 500
        assert sent.stderr.startswith("notify: 1 failed; desk: Failed to send JSON POST")
        status = runner.invoke(cli, ["status", "--db", db])
        header, desk_line = status.stdout.splitlines()[-2:]
        assert header.split() == [
            *("target", "url", "last", "success", "last", "failure"),
            *("pending", "failed", "error"),
        ]
        assert desk_line.split()[:3] == ["desk", f"json://127.0.0.1:{port}/***", "never"]
        assert desk_line.split()[4] == "ago"  # the last failure
        # Two pending (one failed once), none given up; the error as the service gave it.
        assert desk_line.split()[5:9] == ["2", "0", "Failed", "to"]


def test_one_sender_at_a_time(tmp_path: Path, webhook: Webhook) -> None:
    db = tmp_path / "followup.db"
    store = Store.open(db)
    desk = target(webhook.url())
    ingest(store, [desk], article(1))
    store.close()
    busy = pytest.raises(SenderBusy, match="another process has been sending")
    with sender_lock(db, wait=timedelta(0)), busy:  # another process is sending
        send_pending(db, [desk], options=replace(OPTIONS, lock_wait=timedelta(0)))
    assert webhook.requests == []
    first, second = send_pending(db, [desk]), send_pending(db, [desk])
    assert (first.counts["sent"], second.counts["sent"]) == (1, 0)
    assert len(webhook.requests) == 1


def test_a_byte_limited_target_gets_numbered_parts_within_its_limit(
    store: Store, webhook: Webhook
) -> None:
    small = target(webhook.url(), max_bytes=400)  # as wecombot:// is, at 2048
    ingest(store, [small], article(1))
    run_round(store.db, [small], now=utcnow(), options=OPTIONS)
    parts = [payload["message"] for _, payload in webhook.requests]
    assert len(parts) > 1 and all(len(part.encode("utf-8")) <= 400 for part in parts)
    assert all(payload["title"] == "" for _, payload in webhook.requests)
    assert [part.split("\n")[0] for part in parts] == [
        f"({n}/{len(parts)})" for n in range(1, len(parts) + 1)
    ]
    whole = "".join(part.split("\n", 1)[1] for part in parts)
    assert whole.startswith("第1篇：淘宝 的链接终于可以在 微信 里直接打开\nnews · 2026-11-20 10:30")
    assert row_ids(parts[-1]) == [1]


def test_pending_says_what_each_row_announces(store: Store, tmp_path: Path) -> None:
    now = utcnow()
    daily = target("json://127.0.0.1:9/never-sent", mode="digest")
    ingest(store, [daily], article(1))
    failing_since = now - timedelta(hours=8)
    save_source_state(
        store.db,
        SourceState("broken", timedelta(minutes=30), 3, failing_since, last_error="HTTP 500"),
    )
    record_health(store.db, [daily], now=now, max_failing=timedelta(hours=6))
    result = CliRunner().invoke(cli, ["notify", "pending", "--db", str(tmp_path / "followup.db")])
    assert result.exit_code == 0, result.output
    header, digest, health = result.stdout.splitlines()
    _, end = digest_period(now, daily)
    assert header.split() == ["id", "target", "kind", "attempts", "next", "try", "about", "error"]
    assert digest.split() == [
        "1",
        "desk",
        "digest",
        "0",
        to_iso(end),
        "digest",
        "until",
        to_iso(end),
    ]
    assert health.split()[:3] == ["2", "desk", "health"]
    assert health.endswith("broken: failing (start)")


def repost_then_seed(store: Store, targets: list[Target], *, seed_earlier: bool) -> None:
    """A repost of article 1 stored as news (owing messages), then the topic seed of the same
    story: known coverage, met after its repost (published earlier than the repost, or not)."""
    ingest(store, targets, replace(article(1), url="https://b.example/copy-of-1"))
    published = PUBLISHED - timedelta(hours=1 if seed_earlier else 0)
    ingest(store, targets, replace(article(1), published=published), baseline=True)
    assert [r["baseline"] for r in store.db.query("SELECT baseline FROM articles")] == [1]


def rows_owed(store: Store) -> list[tuple[str, str, str]]:
    sql = "SELECT target, kind, status FROM notifications ORDER BY id"
    return [(r["target"], r["kind"], r["status"]) for r in store.db.query(sql)]


@pytest.mark.parametrize("seed_earlier", [True, False], ids=["earlier seed", "later seed"])
def test_a_story_that_turns_out_to_be_known_coverage_is_never_announced(
    store: Store, webhook: Webhook, seed_earlier: bool
) -> None:
    desk = target(webhook.url())
    daily = target(webhook.url(), id="daily", mode="digest", every=timedelta(days=1))
    repost_then_seed(store, [desk, daily], seed_earlier=seed_earlier)
    # desk's message is withdrawn; daily's digest period is still owed (other news may come).
    assert rows_owed(store) == [("daily", "digest", "pending")]
    ingest(store, [desk, daily], article(2))
    _, end = digest_period(utcnow(), daily)

    result = run_round(store.db, [desk, daily], now=end, options=OPTIONS)

    assert result.counts["sent"] == 2 and not result.errors
    digest, each = sorted(webhook.delivered, key=lambda payload: payload["title"])
    assert each["title"].startswith("第2篇") and row_ids(each["message"]) == [3]
    assert digest["title"].startswith("followup digest")
    assert "https://a.example/2" in digest["message"] and "example/1" not in digest["message"]


def test_a_digest_left_with_only_known_coverage_is_not_sent(store: Store, webhook: Webhook) -> None:
    daily = target(webhook.url(), id="daily", mode="digest", every=timedelta(days=1))
    repost_then_seed(store, [daily], seed_earlier=False)
    _, end = digest_period(utcnow(), daily)

    result = run_round(store.db, [daily], now=end, options=OPTIONS)

    assert result.counts["sent"] == 0 and not result.errors and webhook.requests == []
    assert rows_owed(store) == []  # no empty digest, now or later


def test_a_message_already_sent_stays_sent_when_the_story_turns_out_known(
    store: Store, webhook: Webhook
) -> None:
    desk = target(webhook.url())
    ingest(store, [desk], replace(article(1), url="https://b.example/copy-of-1"))
    assert run_round(store.db, [desk], now=utcnow(), options=OPTIONS).counts["sent"] == 1
    ingest(store, [desk], article(1), baseline=True)
    # Nothing more is sent (no correction either); the row still records the delivery.
    assert run_round(store.db, [desk], now=utcnow(), options=OPTIONS).counts["sent"] == 0
    assert len(webhook.requests) == 1
    assert rows_owed(store) == [("desk", "article", "sent")]
