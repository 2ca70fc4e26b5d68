"""Per-source health codes: the pure rules, and every code from real crawls shown by `status`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import load_seeds
from crawler.dates import to_iso, utcnow
from crawler.demo import SITES_DIR
from crawler.health import Health, Run, find_health, get_health
from crawler.mirror import Mirror, Page
from crawler.polling import after_run, first_run, read_run
from crawler.report import EVENTS, format_summary
from crawler.state import SourceState, get_source_states, save_source_state
from crawler.store import Store, open_readonly
from tests.helpers import FAST_SETTINGS, wait_until, write_seeds
from tests.inprocess import crawl_logged
from tests.sitecrawl import TOPIC, readme_example, real_urls, relayout_cnbeta

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def runs(*figures: dict[str, int], every: timedelta = HOUR) -> list[Run]:
    """Runs `every` apart, the last one an hour before NOW."""
    start = NOW - HOUR - every * (len(figures) - 1)
    return [Run(start + every * i, f) for i, f in enumerate(figures)]


def codes(found: list[Health]) -> list[str]:
    return [h.code for h in found]


# The rules, pure ------------------------------------------------------------------------------

READ = {"lists_read": 1, "entries": 3, "site_extracted": 3}
EMPTY = {"lists_read": 1, "empty_lists": 1}


def test_a_healthy_source_has_no_code() -> None:
    assert find_health(runs(READ, READ), now=NOW) == []


def test_no_entries_needs_two_runs_in_a_row_and_a_304_says_nothing() -> None:
    assert find_health(runs(READ, EMPTY), now=NOW) == []
    unchanged = {"lists_read": 1, "not_modified": 1}
    (found,) = find_health(runs(READ, EMPTY, unchanged, EMPTY), now=NOW)
    assert found.code == "no_entries"
    assert found.since == to_iso(NOW - 3 * HOUR)  # the first empty run of the streak
    assert found.detail == "1 feed(s)/list(s) answered 200 with no entry (2 runs in a row)"
    assert find_health(runs(EMPTY, EMPTY, READ), now=NOW) == []  # cleared by a good run


def test_fallback_when_more_than_half_the_pages_needed_it() -> None:
    half = {"site_extracted": 2, "fallback_extracted": 2}
    most = {"site_extracted": 1, "fallback_extracted": 2}
    assert find_health(runs(half), now=NOW) == []
    (found,) = find_health(runs(most, {"lists_read": 1, "not_modified": 1}), now=NOW)
    assert (found.code, found.since) == ("fallback", to_iso(NOW - 2 * HOUR))
    assert found.detail.startswith("2 of 3 page(s) needed the generic fallback")


def test_all_blocked_needs_two_runs_that_fetched_pages() -> None:
    blocked = {"blocked": 2}
    assert find_health(runs(blocked), now=NOW) == []
    assert codes(find_health(runs(blocked, {"lists_read": 1}, blocked), now=NOW)) == ["all_blocked"]
    partly = {"blocked": 2, "site_extracted": 1}
    assert find_health(runs(blocked, partly), now=NOW) == []


def test_redirected_and_dates_missing_from_the_latest_telling_run() -> None:
    redirected = {"lists_read": 1, "site_extracted": 1, "redirected": 1}
    assert codes(find_health(runs(redirected), now=NOW)) == ["redirected"]
    assert find_health(runs(redirected, READ), now=NOW) == []
    undated = {"feed_articles": 4, "site_extracted": 1, "undated": 2}
    fifth = {"feed_articles": 4, "site_extracted": 1, "undated": 1}
    assert codes(find_health(runs(undated), now=NOW)) == ["dates_missing"]
    assert find_health(runs(fifth), now=NOW) == []  # 20 % is not more than 20 %


def test_silent_learns_the_usual_gap_from_the_source_itself() -> None:
    new = {"lists_read": 1, "entries": 5, "already_seen": 4}
    quiet = {"lists_read": 1, "entries": 5, "already_seen": 5}
    daily = runs(new, new, new, new, quiet, quiet, quiet, quiet, every=timedelta(days=1))
    # New entries came daily; the last one 4 days and 1 h ago: more than 3 × 1 day.
    (found,) = find_health(daily, now=NOW)
    assert (found.code, found.since) == ("silent", to_iso(NOW - timedelta(days=4, hours=1)))
    assert found.detail == "no new entry for 4d1h; usually one every 1d"
    # Hourly news, quiet for 4 h: still within the 24 h floor.
    hourly = runs(new, new, new, new, quiet, quiet, quiet)
    assert find_health(hourly, now=NOW) == []
    # Too little history to learn from.
    assert find_health(daily[2:], now=NOW) == []


def test_failing_is_todays_rule() -> None:
    state = SourceState(
        "x", HOUR, consecutive_failures=3, failing_since=NOW - 7 * HOUR, last_error="HTTP 500"
    )
    (found,) = find_health([], state, now=NOW)
    assert found == Health("failing", to_iso(NOW - 7 * HOUR), "3 runs in a row: HTTP 500")
    assert find_health([], state, now=NOW, max_failing=8 * HOUR) == []


def test_silent_in_status_json_from_a_database(tmp_path: Path) -> None:
    """get_health reads crawl_runs; `status --json` shows the codes, `--ignore` silences one."""
    path = tmp_path / "f.db"
    store = Store.open(path)
    now = utcnow()
    save_source_state(store.db, SourceState("news", HOUR, last_run_at=now, next_run_at=now + HOUR))
    for days_ago, seen in [(9, 0), (8, 0), (7, 0), (6, 0), (1, 5)]:
        run_id = store.start_run(["news"])
        figures = {"lists_read": 1, "entries": 5, "already_seen": seen}
        store.finish_run(run_id, {"reason": "finished", "sources": {"news": figures}})
        started = now - timedelta(days=days_ago)
        store.db.execute(
            "UPDATE crawl_runs SET started_at = ? WHERE id = ?", [to_iso(started), run_id]
        )
    store.close()
    readonly = open_readonly(path)  # how a notifier or a dashboard would call it
    try:
        assert codes(get_health(readonly, now=now)["news"]) == ["silent"]
    finally:
        readonly.close()

    result = CliRunner().invoke(cli, ["status", "--db", str(path), "--json"])
    assert result.exit_code == 1
    (news,) = json.loads(result.stdout)
    assert [h["code"] for h in news["health"]] == ["silent"]
    assert set(news["health"][0]) == {"code", "since", "detail"}
    assert result.stderr.startswith("news: silent since ")
    ignored = CliRunner().invoke(cli, ["status", "--db", str(path), "--ignore", "silent"])
    assert ignored.exit_code == 0 and ignored.stderr == ""
    assert ignored.stdout.splitlines()[1].split()[-1] == "silent"  # still shown


def test_ignore_names_only_known_codes(tmp_path: Path) -> None:
    Store.open(tmp_path / "f.db").close()
    result = CliRunner().invoke(cli, ["status", "--db", str(tmp_path / "f.db"), "--ignore", "x"])
    assert result.exit_code == 2 and "'x' is not one of" in result.stderr


# Real crawls ---------------------------------------------------------------------------------

FEED = "https://www.cnbeta.com.tw/backend.php"
REDIRECTS = "https://www.cnbeta.com.tw/articles/tech/1591204.htm"
RELAYOUT = (
    "https://www.cnbeta.com.tw/articles/tech/1591377.htm",
    "https://www.cnbeta.com.tw/articles/tech/1591455.htm",
    "https://www.cnbeta.com.tw/articles/science/1591290.htm",
)
HOST = "https://health.example.net"
SHELL = "<html><head><title>访问验证</title></head><body><p>请完成验证后继续访问</p></body></html>"
LONG = "这是一段没有日期的示例正文，用来检查缺少发布时间的文章是否被发现。" * 20


def rss(*items: str) -> Page:
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{"".join(items)}</channel></rss>'
    return Page(body.encode(), "application/rss+xml; charset=utf-8")


def item(link: str, *, description: str = "短", dated: bool = True) -> str:
    date = "<pubDate>Sat, 28 Nov 2026 08:00:00 +0800</pubDate>" if dated else ""
    return f"<item><title>标题</title><link>{link}</link><description>{description}</description>{date}</item>"


@pytest.fixture
def web() -> Iterator[Mirror]:
    with health_web() as mirror:
        yield mirror


@contextmanager
def health_web() -> Iterator[Mirror]:
    """cnBeta's copy in a new layout with a page redirecting off the site, and generic feeds:
    one empty, one whose pages are verification shells, one of undated articles, one gone."""
    mirror = Mirror.from_directory(SITES_DIR / "cnbeta")
    mirror.set_page("https://www.toutiao.com/a/1/", Page(b"<p>elsewhere</p>"))
    for url in RELAYOUT:
        mirror.set_page(url, Page(relayout_cnbeta(mirror.get_page(url).body)))
    mirror.set_page(f"{HOST}/empty.xml", rss())
    mirror.set_page(f"{HOST}/walled.xml", rss(item(f"{HOST}/w/1.html"), item(f"{HOST}/w/2.html")))
    for n in (1, 2, 3):
        mirror.set_page(f"{HOST}/w/{n}.html", Page(SHELL.encode()))
    undated = [item(f"{HOST}/u/{n}.html", description=LONG, dated=False) for n in (1, 2)]
    mirror.set_page(f"{HOST}/undated.xml", rss(*undated))
    with mirror:
        to = mirror.url_for("https://www.toutiao.com/a/1/")
        mirror.update_page(REDIRECTS, status=302, body=b"", headers={"Location": to})
        yield mirror


SOURCES = f"""
[[source]]
id = "cnbeta"
site = "cnbeta"
feeds = ["{{{FEED}}}"]

[[source]]
id = "empty"
site = "generic"
feeds = ["{{{HOST}/empty.xml}}"]

[[source]]
id = "walled"
site = "generic"
feeds = ["{{{HOST}/walled.xml}}"]

[[source]]
id = "undated"
site = "generic"
feeds = ["{{{HOST}/undated.xml}}"]

[[source]]
id = "down"
site = "generic"
feeds = ["{{{HOST}/gone.xml}}"]
"""


def daemon_step(seeds: Path, db: Path) -> None:
    """One crawl of every source (in this process), its outcome saved per source as the daemon
    saves it from a finished `followup crawl --json` child: its summary and its log."""
    result, log = crawl_logged(seeds, db, settings=FAST_SETTINGS)
    assert result.error is None, result.error
    stdout = json.dumps({"run_id": result.run_id, "sources": result.summary})
    store = Store.open(db)
    try:
        states = get_source_states(store.db)
        for source in load_seeds(seeds).sources:
            report = read_run(source.id, 0, stdout, log)
            state = first_run(states.get(source.id), source, now=utcnow())
            save_source_state(store.db, after_run(state, report, source, now=utcnow()))
    finally:
        store.close()


def test_every_code_from_real_crawls_in_status(web: Mirror, tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, SOURCES, topics=TOPIC)
    db = tmp_path / "followup.db"
    daemon_step(seeds, db)
    # The walled site shows new articles, as blocked as the first ones.
    web.update_page(f"{HOST}/walled.xml", body=rss(item(f"{HOST}/w/3.html")).body)
    daemon_step(seeds, db)
    _wait_failing_longer_than_a_second(db)

    result = CliRunner().invoke(cli, ["status", "--db", str(db), "--json", "--max-failing", "1s"])
    assert result.exit_code == 1
    health = {s["source"]: s["health"] for s in json.loads(result.stdout)}
    found = {source: sorted(h["code"] for h in codes) for source, codes in health.items()}
    assert found == {
        "cnbeta": ["fallback", "redirected"],
        "down": ["failing"],
        "empty": ["no_entries"],
        "undated": ["dates_missing"],
        "walled": ["all_blocked"],
    }
    details = {(s, h["code"]): h["detail"] for s, codes in health.items() for h in codes}
    assert details["cnbeta", "fallback"].startswith("3 of 3 page(s) needed the generic fallback")
    assert (
        details["walled", "all_blocked"] == "all 1 page(s) fetched were blocked (2 runs in a row)"
    )
    assert details["undated", "dates_missing"] == "2 of 2 article(s) without a date"

    table = CliRunner().invoke(cli, ["status", "--db", str(db), "--max-failing", "1s"])
    rows = {line.split()[0]: line for line in table.stdout.splitlines()[1:]}
    assert "fallback,redirected" in rows["cnbeta"] and "no_entries" in rows["empty"]
    assert "cnbeta: fallback since " in table.stderr
    # The README shows this very output (times, ports and column widths aside).
    shown = real_urls(web, table.stdout + table.stderr).splitlines()
    assert _timeless(shown) == _timeless(readme_example("followup status --max-failing 1s"))


def _timeless(lines: list[str]) -> list[str]:
    """Lines with times, durations and alignment blurred: they differ from run to run."""
    blurred = (re.sub(r"\d[\d:TZ-]*[smhdZ]?", "T", line) for line in lines)
    return [" ".join(line.split()) for line in blurred]


def _wait_failing_longer_than_a_second(db: Path) -> None:
    store = Store.open(db)
    try:
        since: Any = get_source_states(store.db)["down"].failing_since
    finally:
        store.close()
    wait_until(lambda: utcnow() - since > timedelta(seconds=1.5), "'down' failing for 1.5 s")


def test_the_crawl_summary_names_this_runs_problems() -> None:
    figures = {event: 0 for event in EVENTS}
    fine = {**figures, "lists_read": 1, "entries": 2, "site_extracted": 2}
    fallen = {**fine, "site_extracted": 0, "fallback_extracted": 2, "redirected": 1}
    walled = {**figures, "lists_read": 1, "entries": 2, "blocked": 2}
    table = format_summary({"fine": fine, "fallen": fallen, "walled": walled}).splitlines()
    assert [line.split("  ")[-1].strip() for line in table[1:]] == [
        "ok",
        "fallback, redirected",
        "all_blocked",
    ]
