"""Feeds (feedparser on fetched bytes, bozo tolerance) and the generic list reader."""

from __future__ import annotations

import json

import pytest

from crawler.feeds import FeedError, parse_feed
from crawler.model import Document
from crawler.sites import get_site

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><link>https://a.example/</link>
<item><title><![CDATA[淘宝 & 微信]]></title><link>/p/1?f=rss</link><author>王立</author>
<pubDate>2026-11-20 10:30:00  +0800</pubDate><type>video_article</type>
<description><![CDATA[<p>导语</p>]]></description></item>
</channel></rss>"""


def test_feed_items_keep_raw_dates_and_resolve_links() -> None:
    feed = parse_feed(
        RSS.encode(), url="https://a.example/feed", content_type="application/rss+xml"
    )
    (item,) = feed.items
    assert feed.problem is None
    assert (item.link, item.title, item.author) == (
        "https://a.example/p/1?f=rss",
        "淘宝 & 微信",
        "王立",
    )
    assert (item.published, item.html, item.kind) == (
        "2026-11-20 10:30:00  +0800",
        "<p>导语</p>",
        "video_article",
    )
    entry = get_site("generic").parse_feed_item(item)
    assert entry.url == "https://a.example/p/1"
    assert (
        entry.published is not None and entry.published.isoformat() == "2026-11-20T02:30:00+00:00"
    )


def test_content_encoded_wins_over_description() -> None:
    rss = RSS.replace(
        "<description>",
        '<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/"><![CDATA[<p>全文</p>]]></content:encoded><description>',
    )
    (item,) = parse_feed(rss.encode(), url="https://a.example/feed").items
    assert item.html == "<p>全文</p>"


def test_bozo_feed_keeps_what_it_could_read() -> None:
    broken = RSS.replace(
        "</channel></rss>", "<item><title>坏 &nbsp; 条目</title><link>https://a.example/p/2</link>"
    )
    feed = parse_feed(broken.encode(), url="https://a.example/feed")
    assert feed.problem and "undefined entity" in feed.problem
    assert [i.link for i in feed.items][:1] == ["https://a.example/p/1?f=rss"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b"<html><body><p>\xe8\xae\xbf\xe9\x97\xae\xe9\xaa\x8c\xe8\xaf\x81</p></body></html>",
            "text/html",
        ),
        (b"\x00\x01garbage", "application/octet-stream"),
    ],
)
def test_not_a_feed_is_an_error_naming_the_url(body: bytes, content_type: str) -> None:
    with pytest.raises(FeedError, match=r"no feed items in https://a.example/feed"):
        parse_feed(body, url="https://a.example/feed", content_type=content_type)


def test_an_empty_but_valid_feed_is_not_an_error() -> None:
    feed = parse_feed(
        b'<rss version="2.0"><channel><title>t</title></channel></rss>',
        url="https://a.example/feed",
    )
    assert feed.items == [] and feed.problem is None


def test_generic_html_list_keeps_article_links_on_the_same_host() -> None:
    html = """<ul>
      <li><a href="/news/2001.html?spm=x">淘宝 微信</a></li>
      <li><a href="2002.html">第二篇</a></li>
      <li><a href="https://list.example.net/news/2001.html">重复</a></li>
      <li><a href="/about">关于</a></li>
      <li><a href="https://other.example/news/3.html">别处</a></li>
      <li><a href="/news/?page=2">下一页</a></li>
    </ul>"""
    entries = get_site("generic").parse_list(Document("https://list.example.net/news/", html))
    assert [(e.url, e.title) for e in entries] == [
        ("https://list.example.net/news/2001.html", "淘宝 微信"),
        ("https://list.example.net/news/2002.html", "第二篇"),
    ]


def test_generic_json_list_finds_records_with_a_link_and_a_title() -> None:
    data = {
        "code": 0,
        "data": {
            "items": [
                {"title": "甲", "url": "/a/1.html", "published_at": 1763600000, "author": "王"},
                {
                    "title": "乙",
                    "link": "https://j.example/a/2.html",
                    "pubDate": "2026-11-20 10:00",
                },
                {"name": "no link here"},
            ]
        },
    }
    entries = get_site("generic").parse_list(
        Document("https://j.example/api/list", json.dumps(data))
    )
    assert [(e.url, e.title, e.author) for e in entries] == [
        ("https://j.example/a/1.html", "甲", "王"),
        ("https://j.example/a/2.html", "乙", ""),
    ]
    assert entries[0].published is not None and entries[1].published is not None
    assert entries[1].published.isoformat() == "2026-11-20T02:00:00+00:00"
