"""A source whose pages trickle a byte at a time cannot hold a crawl: each URL has a total
deadline across its retries, and `followup crawl --timeout` bounds the whole crawl (issue 9,
point 11).

The first crawl runs in this process; the second is `followup crawl --timeout` itself, whose
exit status and last stderr line are what it tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlite_utils import Database

import crawler.settings
from crawler.faults import DEADLINE_META
from crawler.mirror import Mirror, Page
from tests.helpers import FAST_SETTINGS, WAIT_CEILING, run_followup, setting_args, write_seeds
from tests.hostile import RECENT, add_feed, feed_sources, page_html, rss
from tests.inprocess import crawl_logged

SOURCES = feed_sources(
    {"news": "https://news.example.com/feed.xml", "trickle": "https://trickle.example.com/feed.xml"}
)
PAGES = [f"https://trickle.example.com/a/{n}.html" for n in (1, 2)]
# A byte every 50 ms: each page would take minutes to arrive.
TRICKLE = 0.05


def serve_trickling_pages(web: Mirror) -> None:
    items = [(f"缓慢 {n}", url, RECENT) for n, url in enumerate(PAGES)]
    add_feed(
        web,
        "https://trickle.example.com/feed.xml",
        rss("https://trickle.example.com/", items).encode(),
    )
    for seed, url in enumerate(PAGES):
        web.set_page(url, Page(page_html(f"缓慢 {seed}", 50 + seed), trickle=TRICKLE))


def seen(web: Mirror, db_path: Path) -> dict[str, dict[str, str]]:
    with Database(db_path) as db:
        return {web.real_url(r["url"]): r for r in db.query("SELECT * FROM seen")}


class DeadlineOnlyForSlowPagesMiddleware:
    """FOLLOWUP_RESPONSE_DEADLINE for the trickling pages only: every other URL's deadline is
    set (before ResponseDeadlineMiddleware stamps it) far beyond any loaded machine's pace.
    All the mirror's hosts are one Scrapy slot (127.0.0.1, two at a time), so the healthy
    pages can queue behind the trickling ones while a short deadline would run for them too."""

    def __init__(self, slow: list[str]) -> None:
        self.slow = set(slow)

    @classmethod
    def from_crawler(cls, crawler: Any) -> DeadlineOnlyForSlowPagesMiddleware:
        return cls(crawler.settings.getlist(SLOW_URLS_SETTING))

    def process_request(self, request: Any) -> None:
        if request.url not in self.slow:
            request.meta.setdefault(DEADLINE_META, time.monotonic() + WAIT_CEILING)


SLOW_URLS_SETTING = "TESTS_SLOW_URLS"


def test_each_url_has_a_total_deadline_across_its_retries(web: Mirror, tmp_path: Path) -> None:
    serve_trickling_pages(web)
    seeds, db_path = write_seeds(tmp_path / "seeds", web, SOURCES), tmp_path / "f.db"
    # Per attempt, a timeout longer than the test's own ceiling: only the deadline can end them.
    middlewares = {
        **crawler.settings.DOWNLOADER_MIDDLEWARES,
        f"{__name__}.DeadlineOnlyForSlowPagesMiddleware": 550,
    }
    settings = {
        **FAST_SETTINGS,
        "DOWNLOAD_TIMEOUT": "3600",
        "FOLLOWUP_RESPONSE_DEADLINE": "3",
        "DOWNLOADER_MIDDLEWARES": middlewares,
        SLOW_URLS_SETTING: [web.url_for(url) for url in PAGES],
    }
    result, log = crawl_logged(seeds, db_path, settings=settings)
    assert result.error is None, result.error
    assert "Traceback" not in log
    summary = result.summary
    assert summary["news"]["new"] == 2
    assert summary["trickle"]["failed"] == 2
    rows = seen(web, db_path)
    for url in PAGES:
        assert rows[url]["status"] == "failed"  # retried by a later crawl
        assert "no complete response within 3 s" in rows[url]["detail"]


def test_crawl_timeout_stops_the_crawl_and_loses_nothing(web: Mirror, tmp_path: Path) -> None:
    serve_trickling_pages(web)
    seeds, db_path = write_seeds(tmp_path / "seeds", web, SOURCES), tmp_path / "f.db"
    settings = {**FAST_SETTINGS, "DOWNLOAD_TIMEOUT": "3600", "FOLLOWUP_RESPONSE_DEADLINE": "0"}
    args = ["crawl", "--seeds", str(seeds), "--db", str(db_path), *setting_args(settings)]
    stopped = run_followup(*args, "--timeout", "8s", timeout=300)
    assert stopped.returncode == 1, stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert stopped.stderr.splitlines()[-1] == (
        "error: the crawl ran into its deadline (8 s, --timeout) and was stopped; "
        "what it did not reach is fetched by the next crawl"
    )
    # The pages it could not finish are not marked final: served normally, they are stored.
    assert all(seen(web, db_path).get(url, {}).get("status") != "irrelevant" for url in PAGES)
    for url in PAGES:
        web.update_page(url, trickle=0.0)
    again, log = crawl_logged(seeds, db_path, settings=settings)  # the next crawl
    assert again.error is None and "Traceback" not in log, log
    with Database(db_path) as db:
        stored = {web.real_url(r["url"]) for r in db.query("SELECT url FROM articles")}
    assert set(PAGES) <= stored
    assert {
        "https://news.example.com/2026/11/20/pay.html",
        "https://news.example.com/2026/11/19/miit.html",
    } <= stored
