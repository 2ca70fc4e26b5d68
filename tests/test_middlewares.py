"""The downloader middlewares' pure parts (Retry-After, robots.txt requests) and stats keys that
no source id can collide with."""

from __future__ import annotations

import time
from email.utils import formatdate
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import Response

from crawler.config import ConfigError, load_seeds
from crawler.middlewares import is_robots_request, retry_after
from crawler.report import stats_key, summarize


def answer(**headers: str) -> Response:
    return Response("https://rss.huxiu.com/", status=429, headers=headers)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after(answer(**{"Retry-After": "7"})) == 7.0
    later = retry_after(answer(**{"Retry-After": formatdate(time.time() + 120, usegmt=True)}))
    assert later is not None and 100 < later <= 120
    past = formatdate(time.time() - 60, usegmt=True)
    assert retry_after(answer(**{"Retry-After": past})) == 0.0


@pytest.mark.parametrize("value", ["", "soon", "-5"])
def test_an_unreadable_retry_after_is_none(value: str) -> None:
    assert retry_after(answer(**{"Retry-After": value})) is None
    assert retry_after(answer()) is None


def test_only_scrapys_own_robots_txt_requests_are_answered_from_the_store() -> None:
    own = Request("https://a.example/robots.txt", meta={"dont_obey_robotstxt": True})
    assert is_robots_request(own)
    assert not is_robots_request(Request("https://a.example/robots.txt"))
    assert not is_robots_request(Request("https://a.example/x", meta={"dont_obey_robotstxt": True}))


def test_a_source_named_like_a_component_keeps_its_own_figures() -> None:
    """`robotstxt` is a legal source id; the robots.txt middleware's own key is not its figure."""
    stats = {"followup/robotstxt/stored": 3, stats_key("robotstxt", "new"): 1}
    assert stats_key("robotstxt", "stored") != "followup/robotstxt/stored"
    figures = summarize(stats, ["robotstxt"])["robotstxt"]
    assert figures["new"] == 1 and sum(figures.values()) == 1


def test_the_topic_seeds_source_id_is_reserved(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(
        '[[source]]\nid = "seeds"\nfeeds = ["https://a.example/feed"]\n', encoding="utf-8"
    )
    (tmp_path / "topics.toml").write_text('[[topic]]\nid = "t"\nquery = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="'seeds' is reserved for topic seeds"):
        load_seeds(tmp_path)
