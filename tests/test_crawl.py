"""End to end: the followup spider, pipeline and middlewares (a crawl in the test process)
against the local web of recorded pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from crawler.mirror import Mirror
from tests.helpers import HEALTHY_SOURCES, SOURCES, WEB, crawl, held_settings, write_seeds

FEEDS_AND_LISTS = {
    "https://news.example.com/feed.xml",
    "https://daily.example.org/rss",
    "https://list.example.net/news/",
    "https://broken.example.com/feed",
    "https://bad.example.com/feed.xml",
    "https://slow.example.com/feed",
}
SLOW_FEED = "https://slow.example.com/feed"


def real(web: Mirror, rows: list[dict[str, Any]], key: str = "url") -> set[str]:
    return {web.real_url(row[key]) for row in rows}


def test_first_crawl_stores_exactly_the_new_related_articles(web: Mirror, tmp_path: Path) -> None:
    db_path = tmp_path / "followup.db"
    web.hold(SLOW_FEED)  # never answers: the slow source times out, however loaded the machine
    seeds = write_seeds(tmp_path / "seeds", web, SOURCES)
    report = crawl(seeds, db_path, settings=held_settings(web, SLOW_FEED))
    db = Database(db_path)

    articles = list(db.query("SELECT * FROM articles ORDER BY id"))
    assert real(web, articles) == {
        "https://news.example.com/2026/11/20/pay.html",  # ?utm_source=rss&f=rss stripped
        "https://news.example.com/2026/11/19/miit.html",  # #comments stripped
        "https://daily.example.org/a/1001.html",  # teaser feed: page fetched and extracted
        "https://list.example.net/news/2001.html",  # found on a listing page
        "https://bad.example.com/p/1.html",  # from a malformed feed, still used
        "https://list.example.net/news/1999.html",  # the topic seed, as baseline
    }
    baseline = [a for a in articles if a["baseline"]]
    assert real(web, baseline) == {"https://list.example.net/news/1999.html"}
    assert {a["source"] for a in baseline} == {"seeds"}

    duplicates = {web.real_url(d["url"]): d for d in db.query("SELECT * FROM duplicates")}
    originals = {a["id"]: web.real_url(a["url"]) for a in articles}
    assert {url: originals[d["duplicate_of"]] for url, d in duplicates.items()} == {
        # A repost with its own credit lines and edited sentences, on another source.
        "https://daily.example.org/a/1002.html": "https://news.example.com/2026/11/20/pay.html",
        # A trimmed, edited repost of the topic's known coverage.
        "https://list.example.net/news/2002.html": "https://list.example.net/news/1999.html",
    }

    seen = {web.real_url(r["url"]): r["status"] for r in db.query("SELECT url, status FROM seen")}
    assert seen["https://news.example.com/2026/11/20/cloud.html"] == "irrelevant"
    assert seen["https://daily.example.org/a/1003.html"] == "irrelevant"
    assert seen["https://daily.example.org/a/1004.html"] == "blocked"
    assert seen["https://daily.example.org/a/1005.html"] == "failed"

    assert (report["news"]["new"], report["news"]["irrelevant"]) == (2, 1)
    assert (report["daily"]["new"], report["daily"]["duplicates"]) == (1, 1)
    assert (report["daily"]["blocked"], report["daily"]["failed"]) == (1, 1)
    assert (report["listed"]["new"], report["listed"]["duplicates"]) == (1, 1)
    assert report["seeds"]["baseline"] == 1
    # Failing sources are reported and do not stop the others.
    assert report["broken"]["lists_failed"] == 1 and report["broken"]["lists_read"] == 0
    assert report["slow"]["lists_failed"] == 1
    assert report["bad"]["lists_read"] == 1 and report["bad"]["new"] == 1


def test_article_fields_are_clean(web: Mirror, tmp_path: Path) -> None:
    db_path = tmp_path / "followup.db"
    crawl(write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES), db_path)
    rows = {web.real_url(r["url"]): r for r in Database(db_path).query("SELECT * FROM articles")}

    page = rows["https://daily.example.org/a/1001.html"]
    assert page["title"] == "券商热议淘宝接入微信支付：增量有多大？"
    assert page["author"] == "孙悦"
    # The teaser feed printed "2026-11-20 11:00:00", Beijing time.
    assert page["published_at"] == "2026-11-20T03:00:00Z"
    assert "相关阅读" not in page["text"] and "京ICP备" not in page["text"]
    assert page["text"].startswith("淘宝天猫接入微信支付的消息传出后")  # no title line, no nav
    assert len(page["simhash"]) == 16

    fed = rows["https://news.example.com/2026/11/20/pay.html"]
    assert fed["published_at"] == "2026-11-20T02:30:00Z"
    assert fed["text"].startswith("9月12日，记者从淘宝方面获悉")
    topics = list(Database(db_path).query("SELECT * FROM article_topics"))
    assert all(json.loads(t["matched"]) for t in topics if t["topic"] == "interop")


def test_second_crawl_requests_no_article_and_third_stores_the_new_entry(
    web: Mirror, tmp_path: Path
) -> None:
    seeds, db_path = write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES), tmp_path / "f.db"
    crawl(seeds, db_path)
    count = Database(db_path)["articles"].count

    first_hits = len(web.hits)
    report = crawl(seeds, db_path)
    second = {hit.url.split("?")[0] for hit in web.hits[first_hits:]}
    assert second - {u for u in second if u.endswith("/robots.txt")} <= FEEDS_AND_LISTS
    assert sum(r["new"] + r["duplicates"] + r["baseline"] for r in report.values()) == 0
    assert Database(db_path)["articles"].count == count

    web.update_page(
        "https://news.example.com/feed.xml",
        body=(WEB / "news.example.com/new-item.xml").read_bytes(),
    )
    report = crawl(seeds, db_path)
    assert report["news"]["new"] == 1 and report["news"]["already_seen"] == 3
    new = list(Database(db_path).query("SELECT url FROM articles ORDER BY id DESC LIMIT 1"))
    assert real(web, new) == {"https://news.example.com/2026/11/21/oped.html"}
    assert Database(db_path)["articles"].count == count + 1
