"""The sources as they answer today: caijing's dead roll (403) beside its live one, huxiu's 429s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlite_utils import Database

from crawler.config import load_seeds
from crawler.demo import SEEDS_DIR, SITES_DIR
from crawler.mirror import Mirror, Page
from tests.helpers import FAST_SETTINGS
from tests.sitecrawl import crawl

OLD_ROLL = "https://roll.caijing.com.cn/ajax_lists.php?modelid=0"
ROLL = "https://roll.caijing.com.cn/json/lists1.json"
TECH = "https://tech.caijing.com.cn/index.html"
HUXIU_FEED = "https://rss.huxiu.com/"
NIAOGEBIJI_LIST = "https://www.niaogebiji.com/pc/index/getMoreArticle"
BUSY = Page(b"Too Many Requests", "text/plain", status=429, conditional=False)


def test_the_shipped_and_demo_seeds_use_the_live_caijing_endpoints() -> None:
    for seeds in (load_seeds(SEEDS_DIR), load_seeds(Path(__file__).parents[1] / "seeds")):
        (caijing,) = [s for s in seeds.sources if s.id == "caijing"]
        assert caijing.lists == (ROLL, TECH)


@pytest.fixture
def sites() -> Iterator[Mirror]:
    with Mirror.from_directory(SITES_DIR) as mirror:
        yield mirror


def test_dead_lists_and_rate_limits_slow_a_source_without_stopping_it(
    sites: Mirror, tmp_path: Path
) -> None:
    # huxiu's feed is rate-limited once, asking for a second's pause; niaogebiji's list asks
    # for an hour, more than this crawl will wait.
    sites.queue_pages(HUXIU_FEED, [Page(BUSY.body, status=429, headers={"Retry-After": "1"})])
    sites.queue_pages(
        NIAOGEBIJI_LIST, [Page(BUSY.body, status=429, headers={"Retry-After": "3600"})]
    )
    sources = f"""
[[source]]
id = "caijing"
site = "caijing"
lists = ["{{{OLD_ROLL}}}", "{{{ROLL}}}", "{{{TECH}}}"]

[[source]]
id = "huxiu"
site = "huxiu"
feeds = ["{{{HUXIU_FEED}}}"]

[[source]]
id = "niaogebiji"
site = "niaogebiji"
lists = ["{{{NIAOGEBIJI_LIST}}}"]
"""
    report = crawl(
        sites, tmp_path, sources, settings={**FAST_SETTINGS, "FOLLOWUP_RETRY_AFTER_MAX": "30"}
    )

    # caijing: the dead roll's 403 is counted and does not stop the live roll and the listing.
    caijing = report["caijing"]
    assert (caijing["lists_failed"], caijing["lists_read"], caijing["http_403"]) == (1, 2, 1)
    assert caijing["new"] >= 1
    roll_hits = [h for h in sites.hits if urlsplit(h.url).path == "/json/lists1.json"]
    (roll_hit,) = roll_hits
    assert parse_qs(urlsplit(roll_hit.url).query)["time"][0].startswith("0.")
    assert "Referer" not in roll_hit.headers

    # huxiu: the 429 is honoured (the retry waits the second it asked for), then read.
    huxiu = report["huxiu"]
    assert (huxiu["http_429"], huxiu["lists_read"], huxiu["lists_failed"]) == (1, 1, 0)
    assert huxiu["new"] >= 1
    first, second = [h for h in sites.hits if h.url == HUXIU_FEED]
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0

    # niaogebiji: an hour's wait is beyond the cap: given up for this run after one request,
    # a failed list (the daemon's backoff spaces the next runs), the crawl itself fine.
    niaogebiji = report["niaogebiji"]
    assert (niaogebiji["http_429"], niaogebiji["lists_failed"], niaogebiji["lists_read"]) == (
        1,
        1,
        0,
    )
    assert (
        len([h for h in sites.hits if urlsplit(h.url).path == urlsplit(NIAOGEBIJI_LIST).path]) == 1
    )

    runs = list(Database(tmp_path / "followup.db").query("SELECT stats FROM crawl_runs"))
    assert '"http_429": 1' in runs[0]["stats"]
