"""`followup status`: figures, JSON, and the exit status a health check relies on."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.dates import to_iso, utcnow
from crawler.state import SourceState, forget_other_sources, get_source_states, save_source_state
from crawler.store import Store

TOPICS = '[[topic]]\nid = "t"\nquery = "淘宝"\n'


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The time `followup status` reads: fixed, so "5m ago" cannot become "6m ago" on a
    machine too loaded to run the test within the minute."""
    fixed = utcnow().replace(microsecond=0)
    monkeypatch.setattr("crawler.dates.utcnow", lambda: fixed)
    return fixed


def database(tmp_path: Path, *, failing_for: timedelta, now: datetime | None = None) -> Path:
    """Two sources: `news` healthy with 24 h of figures, `broken` failing for `failing_for`."""
    path = tmp_path / "f.db"
    store = Store.open(path)
    now = now or utcnow()
    save_source_state(
        store.db,
        SourceState(
            "news",
            timedelta(minutes=15),
            last_run_at=now - timedelta(minutes=5),
            last_success_at=now - timedelta(minutes=5),
            next_run_at=now + timedelta(minutes=10),
        ),
    )
    save_source_state(
        store.db,
        SourceState(
            "broken",
            timedelta(minutes=30),
            consecutive_failures=4,
            failing_since=now - failing_for,
            last_run_at=now - timedelta(minutes=20),
            last_error="source broken: cannot read https://b.example/feed: HTTP 500",
            next_run_at=now + timedelta(hours=1),
        ),
    )
    for started, new, duplicates, irrelevant in [
        (now - timedelta(hours=1), 2, 1, 3),
        (now - timedelta(hours=23), 1, 0, 1),
        (now - timedelta(hours=25), 9, 9, 9),  # outside the last 24 h
    ]:
        run_id = store.start_run(["news"])
        figures = {"new": new, "duplicates": duplicates, "irrelevant": irrelevant}
        store.finish_run(run_id, {"reason": "finished", "sources": {"news": figures}})
        store.db.execute(
            "UPDATE crawl_runs SET started_at = ? WHERE id = ?", [to_iso(started), run_id]
        )
    store.close()
    return path


def test_status_shows_each_source_and_alerts_on_a_long_failure(
    tmp_path: Path, now: datetime
) -> None:
    db = database(tmp_path, failing_for=timedelta(hours=7), now=now)
    result = CliRunner().invoke(cli, ["status", "--db", str(db)])
    assert result.exit_code == 1  # failing 7 h, longer than the default 6 h
    header, broken, news = result.stdout.splitlines()
    assert header.split()[:3] == ["source", "interval", "last"]
    assert news.split()[:4] == ["news", "15m", "5m", "ago"]
    assert "in 10m" in news
    assert news.split()[-3:] == ["3", "1", "4"]  # new, duplicates, unrelated in 24 h
    assert broken.split()[:2] == ["broken", "30m"] and "never" in broken and "HTTP 500" in broken
    assert result.stderr.startswith("broken: failing for 7h (4 runs in a row): source broken:")

    relaxed = CliRunner().invoke(cli, ["status", "--db", str(db), "--max-failing", "8h"])
    assert relaxed.exit_code == 0 and relaxed.stderr == ""


def test_status_json(tmp_path: Path) -> None:
    db = database(tmp_path, failing_for=timedelta(minutes=30))
    result = CliRunner().invoke(cli, ["status", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    statuses = {s["source"]: s for s in json.loads(result.stdout)}
    news, broken = statuses["news"], statuses["broken"]
    assert (news["new_24h"], news["duplicates_24h"], news["irrelevant_24h"]) == (3, 1, 4)
    assert news["runs_24h"] == 2 and news["interval_seconds"] == 900 and news["problem"] is None
    assert broken["consecutive_failures"] == 4 and broken["last_success_at"] is None
    assert broken["last_error"].endswith("HTTP 500") and broken["runs_24h"] == 0


def test_a_source_overdue_means_the_daemon_is_not_polling(tmp_path: Path, now: datetime) -> None:
    db = database(tmp_path, failing_for=timedelta(0), now=now)
    store = Store.open(db)
    store.db.execute("UPDATE source_state SET next_run_at = ?", [to_iso(now - timedelta(hours=7))])
    store.close()
    result = CliRunner().invoke(cli, ["status", "--db", str(db)])
    assert result.exit_code == 1
    assert "news: its run was due 7h ago; is the daemon running?" in result.stderr


def test_status_without_a_database_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no such database" in result.stderr
    assert not (tmp_path / "none.db").exists()
    bad = CliRunner().invoke(cli, ["status", "--db", str(tmp_path / "x.db"), "--max-failing", "6"])
    assert bad.exit_code == 2 and "'6' is not a duration" in bad.stderr


def test_daemon_refuses_bad_input_before_starting(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(
        '[[source]]\nid = "a"\nfeeds = ["https://a.example/f"]\nevery = "1m"\nmax_every = "5s"\n'
    )
    (tmp_path / "topics.toml").write_text(TOPICS)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["daemon", "--seeds", str(tmp_path), "--db", str(tmp_path / "f.db")]
    )
    assert (
        result.exit_code == 2 and "key 'max_every': must not be shorter than every" in result.stderr
    )
    result = runner.invoke(cli, ["daemon", "--seeds", str(tmp_path), "--timeout", "soon"])
    assert result.exit_code == 2 and "'soon' is not a duration" in result.stderr
    assert not (tmp_path / "f.db").exists()


def test_the_state_of_a_removed_source_is_forgotten(tmp_path: Path) -> None:
    store = Store.open(database(tmp_path, failing_for=timedelta(0)))
    assert forget_other_sources(store.db, ["news"]) == ["broken"]
    assert list(get_source_states(store.db)) == ["news"]
