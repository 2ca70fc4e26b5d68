"""Hostile feeds and pages: one bad item costs only itself, nothing garbled or impossible is
stored, a page's own UTC offset is kept (issue 9, points 1, 2 and 4)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from crawler.dates import parse_datetime
from crawler.extract import extract_generic
from crawler.feeds import decode_feed, parse_feed
from crawler.ingest import clean_article, ingest_article
from crawler.mirror import Mirror
from crawler.model import Article, Document
from crawler.store import Store
from tests.helpers import FAST_SETTINGS, write_seeds
from tests.hostile import RECENT, add_article, add_feed, feed_sources, page_html, rss, story
from tests.inprocess import crawl_logged

FAR_FUTURE = "Fri, 31 Dec 9999 23:59:59 -1200"
FAR_PAST = "0001-01-01T00:00:00+14:00"
NOW = datetime(2026, 11, 29, tzinfo=UTC)


def test_dates_without_an_instant_are_absent_not_an_error() -> None:
    assert parse_datetime(FAR_FUTURE) is None
    assert parse_datetime(FAR_PAST) is None
    assert parse_datetime("Fri, 20 Nov 2026 10:30:00 +0800") == datetime(
        2026, 11, 20, 2, 30, tzinfo=UTC
    )


def test_a_lone_surrogate_costs_nothing_but_itself() -> None:
    body = rss(
        "https://x.example/",
        [
            ("阿里&#xD800;腾讯&#55296;", "https://x.example/1", RECENT),
            ("微信", "https://x.example/2", RECENT),
        ],
    ).encode("utf-8")
    feed = parse_feed(body, url="https://x.example/feed")
    assert [(i.title, i.link) for i in feed.items] == [
        ("阿里腾讯", "https://x.example/1"),
        ("微信", "https://x.example/2"),
    ]


def test_invalid_bytes_in_one_title_leave_the_rest_of_a_utf8_feed_intact() -> None:
    text = rss(
        "https://x.example/",
        [
            ("阿里巴巴BAD", "https://x.example/1", RECENT),
            ("腾讯微信", "https://x.example/2", RECENT),
        ],
    )
    body = text.encode("utf-8").replace(b"BAD", b"\xff\xfe\xc3")
    feed = parse_feed(
        body, url="https://x.example/feed", content_type="application/rss+xml; charset=utf-8"
    )
    titles = [item.title for item in feed.items]
    assert titles[1] == "腾讯微信"
    assert titles[0].startswith("阿里巴巴") and "\ufffd" in titles[0]
    assert [item.damaged for item in feed.items] == [True, False]


def test_a_declared_gbk_feed_is_read_in_its_encoding() -> None:
    body = rss("https://x.example/", [("互联互通", "https://x.example/1", RECENT)], encoding="gbk")
    assert decode_feed(body.encode("gbk")) == body
    # A header that lies (UTF-8) loses to the declaration the body decodes cleanly with.
    assert decode_feed(body.encode("gbk"), "text/xml; charset=utf-8") == body


def test_stored_text_has_no_control_characters_nor_impossible_dates() -> None:
    article = Article(
        "https://x.example/1",
        "标题\x1b[31m\x00 第二行\n",
        "正文\x07一\n二\ud800",
        "作者\x1b",
        datetime(9999, 12, 31, 15, tzinfo=UTC),
    )
    clean = clean_article(article, now=NOW)
    assert (clean.title, clean.text, clean.author, clean.published) == (
        "标题[31m 第二行",
        "正文一\n二",
        "作者",
        None,
    )
    assert (
        clean_article(
            Article("u", "t", "x", published=datetime(1970, 1, 2, tzinfo=UTC)), now=NOW
        ).published
        is None
    )
    recent = datetime(2026, 11, 28, tzinfo=UTC)
    assert clean_article(Article("u", "t", "x", published=recent), now=NOW).published == recent


def test_undecodable_text_never_gets_a_final_irrelevant(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    garbled = Article("https://x.example/1", "标题\ufffd\ufffd", "正文\ufffd" * 40)
    outcome = ingest_article(store, garbled, source="x", topics=[])
    plain = ingest_article(
        store, Article("https://x.example/2", "t", "正文" * 40), source="x", topics=[]
    )
    seen = store.get_seen(["https://x.example/1", "https://x.example/2"])
    store.close()
    assert (outcome.status, plain.status) == ("undecodable", "irrelevant")
    assert seen["https://x.example/1"]["status"] == "failed"
    assert seen["https://x.example/2"]["status"] == "irrelevant"


def _page_with_time(value: str) -> Document:
    html = (
        page_html("标题", 7)
        .decode("utf-8")
        .replace("</head>", f'<meta property="article:published_time" content="{value}"></head>')
    )
    return Document("https://x.example/a.html", html)


def test_generic_extraction_keeps_a_pages_utc_offset() -> None:
    aware = extract_generic(_page_with_time("2021-11-30T23:23:00+00:00"))
    naive = extract_generic(_page_with_time("2021-11-30 23:23:00"))
    assert aware is not None and naive is not None
    assert aware.published == datetime(2021, 11, 30, 23, 23, tzinfo=UTC)
    assert naive.published == datetime(2021, 11, 30, 15, 23, tzinfo=UTC)  # Beijing time


HOSTILE_SOURCES = feed_sources(
    {
        "news": "https://news.example.com/feed.xml",
        "dates": "https://dates.example.com/feed.xml",
        "chars": "https://chars.example.com/feed.xml",
        "bytes": "https://bytes.example.com/feed.xml",
    }
)


def serve_hostile_feeds(web: Mirror) -> None:
    """Three hostile feeds beside the healthy news.example.com."""
    dates = [
        ("未来", "https://dates.example.com/a/1.html", FAR_FUTURE),
        ("远古", "https://dates.example.com/a/2.html", FAR_PAST),
        ("九九九九", "https://dates.example.com/a/3.html", "9999-12-31 23:59:59"),
        ("正常", "https://dates.example.com/a/4.html", RECENT),
    ]
    chars = [
        ("代理&#xD800;对", "https://chars.example.com/a/1.html", RECENT),
        ("终端\x1b[31m控制", "https://chars.example.com/a/2.html", RECENT),
        ("正常", "https://chars.example.com/a/3.html", RECENT),
    ]
    for index, (_, link, _) in enumerate(dates + chars):
        add_article(web, link, "", seed=index)  # no <title>: the feed's title is used
    add_feed(
        web, "https://dates.example.com/feed.xml", rss("https://dates.example.com/", dates).encode()
    )
    add_feed(
        web, "https://chars.example.com/feed.xml", rss("https://chars.example.com/", chars).encode()
    )
    full = [
        ("阿里BAD腾讯", "https://bytes.example.com/a/1.html", RECENT),
        ("腾讯开放外链", "https://bytes.example.com/a/2.html", RECENT),
        ("淘宝支持微信支付", "https://bytes.example.com/a/3.html", RECENT),
    ]
    body = (
        rss("https://bytes.example.com/", full, full_text=True)
        .encode()
        .replace(b"BAD", b"\xff\xfe")
    )
    add_feed(web, "https://bytes.example.com/feed.xml", body)
    add_article(web, "https://bytes.example.com/a/1.html", "阿里与腾讯", seed=1000)


def test_hostile_feeds_cost_only_their_bad_items(web: Mirror, tmp_path: Path) -> None:
    serve_hostile_feeds(web)
    seeds = write_seeds(tmp_path / "seeds", web, HOSTILE_SOURCES)
    db_path = tmp_path / "f.db"
    result, log = crawl_logged(seeds, db_path, settings=FAST_SETTINGS)
    assert result.error is None, result.error
    assert "Traceback" not in log
    summary = result.summary
    db = Database(db_path)
    rows = {
        web.real_url(r["url"]): r
        for r in db.query("SELECT * FROM articles WHERE source != 'seeds'")
    }
    by_source = {s: sorted(u for u, r in rows.items() if r["source"] == s) for s in summary}
    assert len(by_source["news"]) == 2  # the healthy source beside them
    assert len(by_source["dates"]) == 4 and len(by_source["chars"]) == 3
    assert len(by_source["bytes"]) == 3
    published = {u: r["published_at"] for u, r in rows.items() if r["source"] == "dates"}
    assert published == {
        "https://dates.example.com/a/1.html": None,
        "https://dates.example.com/a/2.html": None,
        "https://dates.example.com/a/3.html": None,
        "https://dates.example.com/a/4.html": "2026-09-21T14:13:20Z",
    }
    titles = {rows[u]["title"] for u in by_source["chars"]}
    assert titles == {"代理对", "终端[31m控制", "正常"}
    # Full-text items read from the feed, Chinese intact; the damaged one from its page.
    titles = {u: rows[u]["title"] for u in by_source["bytes"]}
    assert titles == {
        "https://bytes.example.com/a/1.html": "阿里与腾讯",
        "https://bytes.example.com/a/2.html": "腾讯开放外链",
        "https://bytes.example.com/a/3.html": "淘宝支持微信支付",
    }
    assert rows["https://bytes.example.com/a/2.html"]["text"].splitlines()[0] == story(1001)[0]
    assert all(figures["items_skipped"] == 0 for figures in summary.values())
