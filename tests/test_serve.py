"""`followup serve` in process: metadata, canned queries, cells, refusals (no server, no port).

Datasette's own ASGI client answers the requests; tests/test_serve_http.py starts the real
command on a port.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import sqlite3
import sys
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from click.testing import CliRunner
from datasette.app import Datasette
from parsel import Selector
from sqlite_utils import Database

from crawler.cli import cli
from crawler.dates import from_iso, to_iso, utcnow
from crawler.model import Article
from crawler.neardup import Original
from crawler.schema import ARTICLE_DAY
from crawler.state import SourceState, save_source_state
from crawler.status import get_status
from crawler.store import Store
from crawler.web.app import build_datasette, load_metadata
from crawler.web.cells import beijing_time, sightings_html, time_html, title_html

QUERIES = (
    "latest_coverage",
    "story_sightings",
    "search",
    "source_health",
    "articles_per_day",
    "topic_feed",
)
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH = re.compile(r"[A-Z][ -~]{40,}$")
HIDDEN = (
    "seen",
    "fingerprints",
    "http_validators",
    "robots_txt",
    "_sqlite_migrations",
    "article_days",
)


def get(datasette: Datasette, path: str) -> httpx.Response:
    return asyncio.run(datasette.client.get(path))


def rows(datasette: Datasette, path: str) -> list[dict[str, Any]]:
    """The rows of a .json endpoint (path without .json and without a query string)."""
    query = path.partition("?")
    response = get(datasette, f"{query[0]}.json?_shape=array&{query[2]}")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def article(number: int, *, published: str | None, title: str | None = None) -> Article:
    return Article(
        url=f"https://news.example.com/{number}.html",
        title=title or f"微信支付接入淘宝 第{number}篇",
        text=f"第{number}篇：淘宝与微信互联互通的进展。" * 20,
        published=from_iso(published) if published else None,
    )


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A store with three articles on two topics, one of them seen on another site."""
    path = tmp_path / "store.db"
    store = Store.open(path)
    with store.transaction():
        first = store.save_article(
            article(1, published="2026-11-20T16:30:00Z"),
            source="news",
            title_key="k1",
            fingerprint=None,
            topics={"interop": ["淘宝"]},
        )
        store.save_article(
            article(2, published="2026-11-21T02:00:00Z"),
            source="daily",
            title_key="k2",
            fingerprint=None,
            topics={"interop": ["淘宝"], "brokers": ["券商"]},
        )
        store.save_article(
            article(3, published=None),
            source="daily",
            title_key="k3",
            fingerprint=None,
            topics={"brokers": ["券商"]},
        )
        original = Original(first, "https://news.example.com/1.html", 5, "simhash")
        copy = Article(
            url="https://copy.example.org/a.html",
            title="转载：微信支付接入淘宝",
            text="x",
            published=None,
        )
        store.save_duplicate(copy, source="copies", original=original, fingerprint=None)
    store.close()
    return path


def test_metadata_hides_internal_tables_and_names_every_query_in_two_languages() -> None:
    metadata = load_metadata()
    database = metadata["databases"]["followup"]
    assert all(database["tables"][name]["hidden"] for name in HIDDEN)
    assert set(database["queries"]) == set(QUERIES)
    described = {
        **database["queries"],
        **{n: t for n, t in database["tables"].items() if "title" in t},
    }
    for name, entry in described.items():
        chinese, english = entry["title"].split(" · ")
        assert CJK.search(chinese) and english.isascii(), name
        # Chinese first, then an English sentence or more.
        assert CJK.search(entry["description"]) and ENGLISH.search(entry["description"]), name
    assert database["tables"]["articles"]["fts_table"] == "articles_search"
    assert database["tables"]["articles"]["sort_desc"] == "published_at"


def test_database_page_hides_internal_tables(store_path: Path) -> None:
    datasette = build_datasette(store_path)
    tables = get(datasette, "/followup.json").json()["tables"]
    shown = {t["name"] for t in tables if not t["hidden"]}
    # Only the tables people see are counted (the FTS index's shadow tables take seconds).
    counts = {t["name"]: t["count"] for t in tables}
    assert counts["articles"] == 3 and counts["duplicates"] == 1
    assert counts["articles_search_data"] is None and counts["seen"] is None
    assert {"articles", "article_topics", "duplicates", "crawl_runs", "source_state"} <= shown
    assert not shown & set(HIDDEN)
    assert [d["name"] for d in get(datasette, "/.json").json().values()] == ["followup"]


def test_latest_coverage_is_newest_first_with_sightings(store_path: Path) -> None:
    datasette = build_datasette(store_path)
    everything = rows(datasette, "/followup/latest_coverage")
    # Newest publication first; an article without a date comes last.
    assert [r["url"].rsplit("/", 1)[1] for r in everything] == ["2.html", "1.html", "3.html"]
    first = next(r for r in everything if r["url"].endswith("/1.html"))
    assert first["sighting_count"] == 1
    assert json.loads(first["sightings"]) == [
        {
            "source": "copies",
            "title": "转载：微信支付接入淘宝",
            "url": "https://copy.example.org/a.html",
            "distance": 5,
            "published_at": None,
        }
    ]
    brokers = rows(datasette, "/followup/latest_coverage?topic=brokers")
    assert [r["url"].rsplit("/", 1)[1] for r in brokers] == ["2.html", "3.html"]
    assert brokers[0]["topics"] in ("interop, brokers", "brokers, interop")


def test_story_sightings_by_id_or_by_any_copy_url(store_path: Path) -> None:
    datasette = build_datasette(store_path)
    by_copy = rows(datasette, "/followup/story_sightings?story=https://copy.example.org/a.html")
    by_id = rows(datasette, f"/followup/story_sightings?story={by_copy[0]['story']}")
    assert by_copy == by_id
    assert [(r["role"], r["source"]) for r in by_id] == [
        ("original", "news"),
        ("sighting", "copies"),
    ]
    assert rows(datasette, "/followup/story_sightings?story=https://nowhere.example/") == []


def test_articles_per_day_counts_by_beijing_day(store_path: Path) -> None:
    datasette = build_datasette(store_path)
    counts = {
        (r["day"], r["source"]): r["articles"]
        for r in rows(datasette, "/followup/articles_per_day")
    }
    # 2026-11-20T16:30Z is the 21st in Beijing, as is 2026-11-21T02:00Z.
    assert counts[("2026-11-21", "news")] == 1
    assert counts[("2026-11-21", "daily")] == 1 + (to_iso(utcnow())[:10] == "2026-11-21")
    assert sum(counts.values()) == 3


def test_article_days_follow_every_write_to_articles(store_path: Path) -> None:
    counted = "SELECT day, source, articles FROM article_days ORDER BY 1, 2"
    computed = f"""SELECT {ARTICLE_DAY.format(row="a")} AS day, source, count(*) AS articles
                   FROM articles a GROUP BY 1, 2 ORDER BY 1, 2"""
    store = Store.open(store_path)
    try:
        assert list(store.db.query(counted)) == list(store.db.query(computed))
        store.db.execute("UPDATE articles SET published_at = '2020-01-01T20:00:00Z' WHERE id = 1")
        store.db.execute("UPDATE articles SET source = 'moved' WHERE id = 2")
        # Older versions let impossible times in: such a row counts on its fetching day.
        store.db.execute("UPDATE articles SET published_at = '9999-12-31T23:59:59Z' WHERE id = 2")
        store.db.execute("DELETE FROM article_topics WHERE article_id = 3")
        store.db.execute("DELETE FROM articles WHERE id = 3")
        assert list(store.db.query(counted)) == list(store.db.query(computed))
        assert ("2020-01-02", "news", 1) in [tuple(r.values()) for r in store.db.query(counted)]
    finally:
        store.close()


def test_the_migration_counts_the_articles_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = Store.open(path)
    store.close()
    with Database(path) as db:
        db.execute("DROP TABLE article_days")
        for trigger in ("article_days_ai", "article_days_ad", "article_days_au"):
            db.execute(f"DROP TRIGGER {trigger}")
        db.execute("DROP INDEX crawl_runs_started_at")
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm009_serve'")
        db.execute(
            """INSERT INTO articles (url, source, title, published_at, fetched_at, text, title_key)
               VALUES ('https://a.example/1', 'news', 't', '2026-11-20T16:30:00Z',
                       '2026-11-21T00:00:00Z', 'x', 'k')"""
        )
    Store.open(path).close()
    with Database(path) as db:
        assert list(db.query("SELECT * FROM article_days")) == [
            {"day": "2026-11-21", "source": "news", "articles": 1}
        ]


def status_store(path: Path) -> Path:
    """Sources as the daemon leaves them: healthy, failing, overdue, and one only crawled."""
    store = Store.open(path)
    now = utcnow()
    healthy = SourceState("news", timedelta(minutes=15), last_run_at=now - timedelta(minutes=5))
    save_source_state(store.db, replace(healthy, last_success_at=healthy.last_run_at))
    failing = SourceState("broken", timedelta(minutes=30), last_error="source broken: HTTP 500")
    save_source_state(
        store.db,
        replace(failing, consecutive_failures=4, failing_since=now - timedelta(hours=7)),
    )
    late = SourceState("late", timedelta(minutes=5), next_run_at=now - timedelta(hours=8))
    save_source_state(store.db, late)
    for hours, source, new in [(1, "news", 2), (23, "news", 1), (25, "news", 9), (2, "listed", 4)]:
        run_id = store.start_run([source])
        figures = {"new": new, "duplicates": 1, "irrelevant": 3}
        if hours == 1:  # the latest run's pages were read by the generic fallback
            figures |= {"site_extracted": 1, "fallback_extracted": 2}
        store.finish_run(run_id, {"reason": "finished", "sources": {source: figures}})
        started = to_iso(now - timedelta(hours=hours))
        store.db.execute("UPDATE crawl_runs SET started_at = ? WHERE id = ?", [started, run_id])
    store.close()
    return path


def test_source_health_shows_what_status_shows(tmp_path: Path) -> None:
    path = status_store(tmp_path / "status.db")
    with Database(path) as db:
        statuses = get_status(db, now=utcnow(), max_failing=timedelta(hours=6))
    health = {r["source"]: r for r in rows(build_datasette(path), "/followup/source_health")}
    assert {s.source for s in statuses if s.problem} == {"broken", "late"}
    for status in statuses:
        expected = {k: v for k, v in asdict(status).items() if k != "problem"}
        row = {k: v for k, v in health[status.source].items() if k != "problem"}
        assert {**row, "health": json.loads(row["health"])} == expected
        assert (health[status.source]["problem"] is None) == (status.problem is None)
    assert health["broken"]["problem"] == (
        "failing for more than 6h (4 runs in a row): source broken: HTTP 500"
    )
    assert health["late"]["problem"] == "its run was due more than 6h ago; is the daemon running?"
    assert health["news"]["new_24h"] == 3  # the run 25 h ago is outside the window
    assert [h["code"] for h in json.loads(health["news"]["health"])] == ["fallback"]
    assert [h["code"] for h in json.loads(health["broken"]["health"])] == ["failing"]
    # A source only `followup crawl` ran has figures but no schedule.
    assert health["listed"]["runs_24h"] == 1 and health["listed"]["interval_seconds"] is None


def test_source_health_counts_the_runs_status_counts(tmp_path: Path) -> None:
    # serve reads crawl_run_sources as `followup status` does: the same figures over a day and
    # a half of runs, and neither counts a run another program wrote to crawl_runs alone
    # (README: record it through crawler.health.record_verdicts).
    path = status_store(tmp_path / "status.db")
    store, now, rng = Store.open(path), utcnow(), random.Random(16)
    for half_hours in range(72):  # none within 15 min of the 24 h boundary
        started = to_iso(now - timedelta(hours=0.25 + half_hours / 2))
        sources = rng.sample(["news", "broken", "listed", "crawled"], 2)
        figures = {
            s: {e: rng.randrange(5) for e in ("new", "duplicates", "irrelevant")} for s in sources
        }
        run_id = store.start_run(sources)
        store.finish_run(run_id, {"reason": "finished", "sources": figures})
        store.db.execute("UPDATE crawl_runs SET started_at = ? WHERE id = ?", [started, run_id])
    stats = json.dumps({"sources": {"news": {"new": 50}, "elsewhere": {"new": 7}}})
    store.db.execute(
        "INSERT INTO crawl_runs (started_at, finished_at, sources, stats) VALUES (?, ?, ?, ?)",
        [to_iso(now - timedelta(hours=1)), to_iso(now), '["news", "elsewhere"]', stats],
    )
    store.close()

    shown = CliRunner().invoke(cli, ["status", "--json", "--db", str(path)])
    health = {r["source"]: r for r in rows(build_datasette(path), "/followup/source_health")}

    statuses = json.loads(shown.stdout)
    assert {s["source"] for s in statuses} == {"news", "broken", "late"}
    assert set(health) == {"news", "broken", "late", "listed", "crawled"}  # with crawl-only ones
    figures = ("runs_24h", "new_24h", "duplicates_24h", "irrelevant_24h", "last_job")
    for status in statuses:
        assert {k: health[status["source"]][k] for k in figures} == {k: status[k] for k in figures}
    assert health["news"]["runs_24h"] > 10


def test_topic_feed_is_valid_atom_even_for_a_topic_without_articles(store_path: Path) -> None:
    datasette = build_datasette(store_path)
    feed = feedparser.parse(get(datasette, "/followup/topic_feed.atom?topic=interop").content)
    assert feed.bozo == 0
    assert [e.link for e in feed.entries] == [
        "https://news.example.com/2.html",
        "https://news.example.com/1.html",
    ]
    assert feed.entries[1].updated == "2026-11-20T16:30:00+00:00"
    empty = feedparser.parse(get(datasette, "/followup/topic_feed.atom?topic=nothing").content)
    assert empty.bozo == 0
    assert [e.title for e in empty.entries] == ["No article on nothing yet"]


def test_html_shows_beijing_time_and_links_titles_to_the_original(store_path: Path) -> None:
    html = get(build_datasette(store_path), "/followup/latest_coverage").text
    assert '<a href="https://news.example.com/1.html" rel="noopener noreferrer">' in html
    assert ">2026-11-21 00:30</time>" in html  # 2026-11-20T16:30Z
    assert '<a href="story_sightings?story=' in html
    table = get(build_datasette(store_path), "/followup/articles").text
    assert ">2026-11-21 10:00</time>" in table  # 2026-11-21T02:00Z


def test_cells() -> None:
    assert beijing_time("2026-11-20T16:30:00Z") == "2026-11-21 00:30"
    assert beijing_time("2026-11-21") is None and beijing_time(5) is None
    assert time_html("not a time") is None
    assert title_html("<b>", "javascript:alert(1)") is None
    assert title_html("A & B", "https://x.example/?a=1&b=2") == (
        '<a href="https://x.example/?a=1&amp;b=2" rel="noopener noreferrer">A &amp; B</a>'
    )
    assert sightings_html("[]") == "—"
    assert sightings_html("not json") is None
    one = '[{"source": "s", "title": "T", "url": "https://s.example/1", "distance": 2}]'
    assert sightings_html(one) == (
        '<ul><li>s: <a href="https://s.example/1" rel="noopener noreferrer">T</a>'
        " (distance 2)</li></ul>"
    )


def test_serve_refuses_what_it_cannot_show(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["serve", "--db", str(tmp_path / "nope.db")])
    assert missing.exit_code == 2
    assert "no database at" in missing.output and "followup crawl --db" in missing.output
    text = tmp_path / "notes.db"
    text.write_text("not SQLite " * 200)
    assert runner.invoke(cli, ["serve", "--db", str(text)]).exit_code == 2
    old = tmp_path / "old.db"
    with Database(old) as db:
        db["articles"].insert({"id": 1})
    stale = runner.invoke(cli, ["serve", "--db", str(old)])
    assert stale.exit_code == 2
    assert "missing m001_initial" in stale.output and "followup status --db" in stale.output
    assert "Traceback" not in missing.output + stale.output


def readme_serve_examples() -> dict[str, str]:
    """The README's `followup serve` examples: command (after `followup `) -> its line."""
    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Browsing: `followup serve`") :]
    found = re.findall(r"^    \$ followup (serve[^\n]*)\n    (.+)$", section, re.MULTILINE)
    return dict(found)


def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    Store.open(tmp_path / "followup.db").close()
    (line,) = [v for v in readme_serve_examples().values() if v.startswith("Error:")]
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        db = str(tmp_path / "followup.db")
        result = CliRunner().invoke(cli, ["serve", "--db", db, "--port", port])
    assert result.exit_code == 2
    # The README's example, on the default port 8001 (taken here by another program).
    assert result.output == line.replace("8001", port) + "\n"


def test_serve_without_the_web_extra_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(tmp_path / "f.db").close()
    monkeypatch.delitem(sys.modules, "crawler.web.app")
    monkeypatch.setitem(sys.modules, "datasette.app", None)
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "f.db")])
    assert result.exit_code == 2
    assert "pip install 'followup-crawler[web]'" in result.output


def test_the_served_database_cannot_be_written(store_path: Path) -> None:
    database = build_datasette(store_path).get_database("followup")
    assert database.is_mutable  # so every page sees what the daemon commits (not immutable)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        asyncio.run(database.execute("DELETE FROM articles"))
    with Database(store_path) as db:
        assert db["articles"].count == 3


def test_search_query_finds_two_and_three_character_terms(store_path: Path) -> None:
    datasette = build_datasette(store_path)
    three = rows(datasette, "/followup/search?q=互联互通")
    assert [r["url"].rsplit("/", 1)[1] for r in three] == ["3.html", "2.html", "1.html"]
    assert all("【互联互通】" in r["snippet"] for r in three)
    two = rows(datasette, "/followup/search?q=" + "第2")  # two characters: scanned, newest first
    assert [r["url"].rsplit("/", 1)[1] for r in two] == ["2.html"]
    assert rows(datasette, "/followup/search?q=") == []
    assert rows(datasette, '/followup/search?q="OR"') == []  # no FTS syntax gets through


def test_the_landing_page_links_to_the_canned_queries(store_path: Path) -> None:
    page = Selector(text=get(build_datasette(store_path), "/").text)
    links = page.css(".metadata-description a::attr(href)").getall()
    assert links == [
        "followup/latest_coverage",
        "followup/search",
        "followup/source_health",
        "followup/articles_per_day",
    ]
