"""Conditional GET and change monitoring, end to end: crawls in the test process."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlite_utils import Database

from crawler.mirror import Hit, Mirror
from tests.helpers import WEB, crawl, write_seeds

SOURCES = """
[[source]]
id = "news"
site = "generic"
feeds = ["{https://news.example.com/feed.xml}"]

[[source]]
id = "daily"
site = "generic"
feeds = ["{https://daily.example.org/rss}"]

[[source]]
id = "listed"
site = "generic"
lists = ["{https://list.example.net/news/}"]
"""
NEWS_FEED = "https://news.example.com/feed.xml"
DAILY_FEED = "https://daily.example.org/rss"
LIST_PAGE = "https://list.example.net/news/"
PAY = "https://news.example.com/2026/11/20/pay.html"
DAILY_PAGE = "https://daily.example.org/a/1001.html"


def headers(hit: Hit) -> dict[str, str]:
    return {name.lower(): value for name, value in hit.headers.items()}


def edit(web: Mirror, url: str, old: str, new: str) -> None:
    body = web.get_page(url).body
    assert old.encode() in body
    web.update_page(url, body=body.replace(old.encode(), new.encode()))


def test_an_unchanged_source_is_one_conditional_request_per_list_until_it_changes(
    web: Mirror, tmp_path: Path
) -> None:
    seeds, db = write_seeds(tmp_path / "seeds", web, SOURCES), tmp_path / "f.db"
    crawl(seeds, db)
    first = len(web.hits)

    report = crawl(seeds, db)
    hits = web.hits[first:]
    # robots.txt came from the store (fetched by the first crawl, within a day): not asked for.
    assert Counter(hit.url for hit in hits) == {NEWS_FEED: 1, LIST_PAGE: 1, DAILY_FEED: 1}
    by_url = {hit.url: hit for hit in hits}
    for url in (NEWS_FEED, LIST_PAGE):
        sent = headers(by_url[url])
        assert sent["if-none-match"].startswith('"') and sent["if-modified-since"].endswith("GMT")
        assert by_url[url].status == 304
    assert (report["news"]["not_modified"], report["news"]["lists_read"]) == (1, 1)
    assert report["news"]["entries"] == 0 and report["listed"]["not_modified"] == 1
    # The teaser feed named a page that failed and a WAF shell: both wait for a retry, so a
    # 304 must not hide them and the feed is asked for in full.
    assert "if-none-match" not in headers(by_url[DAILY_FEED])
    assert by_url[DAILY_FEED].status == 200 and report["daily"]["not_modified"] == 0

    # A changed feed answers the conditional request in full, and its new entry is stored.
    web.update_page(NEWS_FEED, body=(WEB / "news.example.com/new-item.xml").read_bytes())
    second = len(web.hits)
    report = crawl(seeds, db)
    (feed,) = [hit for hit in web.hits[second:] if hit.url == NEWS_FEED]
    assert "if-none-match" in headers(feed) and feed.status == 200
    assert report["news"]["new"] == 1 and report["news"]["not_modified"] == 0


def test_a_full_text_feed_showing_an_edit_records_one_version(web: Mirror, tmp_path: Path) -> None:
    seeds, db_path = (
        write_seeds(tmp_path / "seeds", web, SOURCES.split("\n\n[[source]]")[0]),
        (tmp_path / "f.db"),
    )
    crawl(seeds, db_path)
    db = Database(db_path)
    (before,) = db.query("SELECT * FROM articles WHERE url LIKE '%/pay.html'")
    fingerprints = db["fingerprints"].count

    edit(web, NEWS_FEED, "9月12日，记者从淘宝方面获悉", "9月13日，记者从淘宝方面获悉")
    report = crawl(seeds, db_path)
    assert report["news"]["revised"] == 1 and report["news"]["new"] == 0
    (version,) = db.query("SELECT * FROM article_versions")
    (after,) = db.query("SELECT * FROM articles WHERE url LIKE '%/pay.html'")
    assert version["article_id"] == before["id"] == after["id"]
    assert (version["title"], version["text"], version["simhash"]) == (
        before["title"],
        before["text"],
        before["simhash"],
    )
    assert version["fetched_at"] == before["fetched_at"] <= version["replaced_at"]
    assert after["text"].startswith("9月13日") and after["fetched_at"] == before["fetched_at"]
    assert after["simhash"] != before["simhash"]
    assert db["fingerprints"].count == fingerprints + 1  # the old version's stays indexed

    # The feed served again in full, unchanged: compared, and nothing recorded.
    web.update_page(NEWS_FEED, conditional=False)
    report = crawl(seeds, db_path)
    assert report["news"]["already_seen"] == 3 and report["news"]["revised"] == 0
    assert db["article_versions"].count == 1


def test_recheck_refetches_recent_articles_and_records_an_edit_once(
    web: Mirror, tmp_path: Path
) -> None:
    sources = '[[source]]\nid = "daily"\nsite = "generic"\nfeeds = ["{https://daily.example.org/rss}"]\nrecheck = "520w"\n'
    seeds, db_path = write_seeds(tmp_path / "seeds", web, sources), tmp_path / "f.db"
    crawl(seeds, db_path)
    db = Database(db_path)
    stored = db.execute("SELECT count(*) FROM articles WHERE source = 'daily'").fetchone()[0]
    assert stored >= 1

    first = len(web.hits)
    report = crawl(seeds, db_path)
    (page,) = [hit for hit in web.hits[first:] if hit.url == DAILY_PAGE]
    assert "if-none-match" in headers(page) and page.status == 304
    assert report["daily"]["rechecked"] == stored and report["daily"]["revised"] == 0

    edit(web, DAILY_PAGE, "超过9亿月活跃用户", "超过10亿月活跃用户")
    report = crawl(seeds, db_path)
    assert report["daily"]["revised"] == 1
    (version,) = db.query("SELECT * FROM article_versions")
    (article,) = db.query("SELECT * FROM articles WHERE id = ?", [version["article_id"]])
    assert "超过9亿" in version["text"] and "超过10亿" in article["text"]

    report = crawl(seeds, db_path)  # the edited page, unchanged since: 304, nothing recorded
    assert report["daily"]["revised"] == 0 and db["article_versions"].count == 1


def test_robots_txt_is_obeyed_from_the_store_and_fetched_again_when_stale(
    web: Mirror, tmp_path: Path
) -> None:
    seeds, db = write_seeds(tmp_path / "seeds", web, SOURCES), tmp_path / "f.db"
    crawl(seeds, db)
    robots = "https://list.example.net/robots.txt"
    assert [hit.url for hit in web.hits].count(robots) == 1
    # The stored rules still apply: a page the stored robots.txt forbids is never requested.
    web.update_page(
        LIST_PAGE,
        body=b'<a href="/private/3001.html">\xe7\xa7\x81</a><a href="/news/3002.html">x</a>',
    )
    first = len(web.hits)
    report = crawl(seeds, db)
    requested = [hit.url for hit in web.hits[first:]]
    assert "https://list.example.net/private/3001.html" not in requested
    assert "https://list.example.net/news/3002.html" in requested and robots not in requested
    assert report["listed"]["entries"] == 2
    # Older than FOLLOWUP_ROBOTSTXT_MAX_AGE: fetched again.
    Database(db).execute("UPDATE robots_txt SET fetched_at = '2020-01-01T00:00:00Z'")
    first = len(web.hits)
    crawl(seeds, db)
    assert [hit.url for hit in web.hits[first:]].count(robots) == 1
