"""One owner of the store during a crawl: StorePipeline opens it, starts and finishes the run and
writes every item; the spider reads through CrawlReads and writes nothing; the robots.txt
middleware goes through the owner. Item-level, in the test process, on a tmp_path database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.changes import Validators, content_hash
from crawler.config import load_seeds
from crawler.items import ArticleItem, ListItem, RejectedItem, RevisionItem, ValidatorsItem
from crawler.middlewares import StoredRobotsTxtMiddleware
from crawler.model import Article
from crawler.pipelines import StoreNotOpen, StorePipeline
from crawler.spiders.followup import FollowupSpider
from crawler.store import Store
from tests.helpers import QUERY

FEED = "https://news.example.com/feed.xml"
URL = "https://news.example.com/a/1.html"
TEXT = "阿里与腾讯互联互通再进一步：淘宝商品链接可以在微信里直接打开，微信支付也将接入淘宝。" * 8


def article(text: str = TEXT) -> Article:
    return Article(URL, "淘宝链接可在微信打开", text)


@pytest.fixture
def crawler(tmp_path: Path) -> Crawler:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "sources.toml").write_text(
        f'[[source]]\nid = "news"\nsite = "generic"\nfeeds = ["{FEED}"]\n', encoding="utf-8"
    )
    (seeds / "topics.toml").write_text(
        f"[[topic]]\nid = \"interop\"\nquery = '{QUERY}'\n", encoding="utf-8"
    )
    crawler = get_crawler(FollowupSpider, {"FOLLOWUP_DB": str(tmp_path / "f.db")})
    crawler.spider = FollowupSpider.from_crawler(crawler, seeds=load_seeds(seeds))
    return crawler


@pytest.fixture
def owner(crawler: Crawler) -> Iterator[StorePipeline]:
    pipeline = StorePipeline.from_crawler(crawler)
    pipeline.open_spider()
    try:
        yield pipeline
    finally:
        close(crawler)


def close(crawler: Crawler) -> None:
    crawler.signals.send_catch_log(signals.spider_closed, spider=crawler.spider, reason="finished")


def process(owner: StorePipeline, item: object) -> object:
    """The item through the pipeline; a dropped one (written, nothing more to do) is None."""
    try:
        return owner.process_item(item)
    except DropItem:
        return None


def test_the_owner_opens_the_store_and_records_the_run(
    crawler: Crawler, owner: StorePipeline, tmp_path: Path
) -> None:
    assert process(owner, ArticleItem("news", article())) is not None
    assert process(owner, RejectedItem("news", URL + "?2", "failed", "HTTP 500")) is None
    close(crawler)
    with pytest.raises(StoreNotOpen):
        owner.reads.get_known([URL])
    db = Store.open(tmp_path / "f.db").db
    (run,) = db.query("SELECT * FROM crawl_runs")
    assert run["id"] == owner.run_id and run["finished_at"] is not None
    assert owner.summary["news"]["new"] == 1 and owner.summary["news"]["failed"] == 1
    assert '"reason": "finished"' in run["stats"] and '"new": 1' in run["stats"]
    assert {r["status"] for r in db.query("SELECT status FROM seen")} == {"stored", "failed"}


def test_page_validators_travel_as_items(owner: StorePipeline) -> None:
    assert process(owner, ValidatorsItem(URL, Validators('"v1"', None, "h1"))) is None
    assert owner.reads.get_validators([URL]) == {URL: Validators('"v1"', None, "h1")}


def test_a_list_keeps_its_validators_only_when_every_entry_it_named_is_settled(
    crawler: Crawler, owner: StorePipeline, tmp_path: Path
) -> None:
    other = "https://news.example.com/list"
    process(owner, ArticleItem("news", article()))
    process(owner, ListItem(FEED, Validators('"f1"'), [URL]))
    process(owner, ListItem(other, Validators('"l1"'), [URL, "https://news.example.com/a/9"]))
    close(crawler)
    kept = Store.open(tmp_path / "f.db").get_validators([FEED, other])
    assert kept == {FEED: Validators('"f1"')}  # the other list named an entry never settled


def test_a_rechecked_page_is_compared_with_its_last_fetch(owner: StorePipeline) -> None:
    process(owner, ArticleItem("news", article()))
    first = Validators('"v1"', None, content_hash("淘宝链接可在微信打开", TEXT))
    owner.store.save_validators(URL, first)
    # The same extraction again: its validators are saved, nothing else.
    same = Validators('"v2"', None, first.content_hash)
    assert process(owner, RevisionItem("news", article(), same)) is None
    assert owner.reads.get_validators([URL])[URL] == same
    assert owner.store.db["article_versions"].count == 0
    # Other words: a revision, its validators saved with it.
    edited = article(TEXT.replace("直接打开", "一键打开"))
    changed = Validators('"v3"', None, content_hash(edited.title, edited.text))
    assert process(owner, RevisionItem("news", edited, changed)) is not None
    assert owner.store.db["article_versions"].count == 1
    assert owner.reads.get_validators([URL])[URL] == changed


def test_the_robots_txt_middleware_uses_the_owners_cache(
    crawler: Crawler, owner: StorePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crawler, "get_item_pipeline", lambda cls: owner)
    middleware = StoredRobotsTxtMiddleware.from_crawler(crawler)
    robots = Request("https://news.example.com/robots.txt", meta={"dont_obey_robotstxt": True})
    assert middleware.process_request(robots) is None  # nothing kept yet: fetched
    fetched = Response(robots.url, status=200, body=b"User-agent: *\nDisallow: /private\n")
    middleware.process_response(robots, fetched)
    answer = middleware.process_request(robots)
    assert answer is not None and answer.body == fetched.body
    # Without an owner (check-sites stores nothing), Scrapy fetches robots.txt itself.
    monkeypatch.setattr(crawler, "get_item_pipeline", lambda cls: None)
    assert middleware.process_request(robots) is None


def test_the_spider_writes_nothing() -> None:
    """Its store is typed CrawlReads (mypy rejects a write); and no write call is in its code."""
    source = (Path(__file__).parents[1] / "crawler" / "spiders" / "followup.py").read_text()
    for write in ("Store.open", "save_", "delete_", "start_run", "finish_run", ".close()"):
        assert write not in source, f"crawler/spiders/followup.py calls {write}"
