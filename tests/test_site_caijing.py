"""财经网: year-less roll times, the roll's cache-buster, both list formats, both page layouts, GBK."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.dates import BEIJING, to_iso
from crawler.extract import decode_body, extract_article
from crawler.model import Article, Document, Entry
from crawler.sites import get_site, site_for_url
from crawler.sites.caijing import parse_list_time, split_byline

DEMO = Path(__file__).parents[1] / "crawler" / "demo" / "sites" / "caijing"
ROLL_URL = "https://roll.caijing.com.cn/json/lists1.json"
SEED_URL = "https://tech.caijing.com.cn/20231018/4965423.shtml"
GBK_URL = "https://tech.caijing.com.cn/20261119/5128240.shtml"
NEW_YEAR = datetime(2027, 1, 1, 0, 20, tzinfo=BEIJING)

site = get_site("caijing")


def roll(*records: object) -> Document:
    """A roll response as PHP prints it: \\uXXXX escapes and escaped slashes."""
    return Document(ROLL_URL, json.dumps(list(records)).replace("/", "\\/"))


def page(body: str, *, head: str = "<title>标题-财经网 - CAIJING.COM.CN</title>") -> Document:
    return Document(
        "https://tech.caijing.com.cn/20261120/5128999.shtml",
        f"<html><head>{head}</head><body>{body}</body></html>",
    )


# Year-less times ------------------------------------------------------------------------------


def test_a_list_read_on_new_years_day_keeps_last_years_article() -> None:
    url = "https://tech.caijing.com.cn/20261231/5139001.shtml"
    published = parse_list_time("12-31 23:50", url, now=NEW_YEAR)
    # "This year" on Jan 1 would make it 2027-12-31, a year in the future: the URL decides.
    assert to_iso(published) == "2026-12-31T15:50:00Z"


def test_the_roll_takes_its_day_from_the_url_whatever_the_clock() -> None:
    (entry,) = site.parse_list(
        roll(
            {
                "url": "https://tech.caijing.com.cn/20261231/5139001.shtml",
                "title": "跨年稿",
                "published": "12-31 23:50",
            }
        )
    )
    assert to_iso(entry.published) == "2026-12-31T15:50:00Z"


def test_the_url_day_wins_when_the_roll_names_another_day() -> None:
    # Re-pushed into the roll on 11-11 after an update; created (and dated) 11-10.
    url = "https://finance.caijing.com.cn/20261110/5124518.shtml"
    assert to_iso(parse_list_time("11-11 07:50", url)) == "2026-11-09T23:50:00Z"


@pytest.mark.parametrize(
    ("value", "now", "expected"),
    [
        ("12-31 23:50", NEW_YEAR, "2026-12-31T15:50:00Z"),
        ("01-01 00:10", NEW_YEAR, "2026-12-31T16:10:00Z"),
        ("02-29 10:00", datetime(2028, 3, 1, tzinfo=UTC), "2028-02-29T02:00:00Z"),
        ("02-29 10:00", datetime(2029, 3, 1, tzinfo=UTC), "2028-02-29T02:00:00Z"),
        ("02-29 10:00", datetime(2030, 3, 1, tzinfo=UTC), None),
    ],
)
def test_without_a_url_date_the_year_is_the_latest_not_in_the_future(
    value: str, now: datetime, expected: str | None
) -> None:
    url = "https://www.caijing.com.cn/zt/interop/"
    assert to_iso(parse_list_time(value, url, now=now)) == expected


@pytest.mark.parametrize("value", ["", "  ", "昨天", "13:05"])
def test_unreadable_list_times_are_none(value: str) -> None:
    assert parse_list_time(value, SEED_URL) is None


def test_a_full_printed_date_is_read_as_beijing_time() -> None:
    assert to_iso(parse_list_time("2026-11-19 10:05", GBK_URL)) == "2026-11-19T02:05:00Z"


# Requests and identities ----------------------------------------------------------------------


def test_the_roll_is_asked_with_a_fresh_cache_buster_and_no_referer() -> None:
    first, second = site.request_url(ROLL_URL), site.request_url(ROLL_URL + "?time=0.5")
    assert first.startswith(ROLL_URL + "?time=0.") and second.startswith(ROLL_URL + "?time=0.")
    assert first != second and "time=0.5&" not in second and second.count("time=") == 1
    assert site.request_url("https://tech.caijing.com.cn/index.html") == (
        "https://tech.caijing.com.cn/index.html"
    )
    assert site.request_headers(ROLL_URL) == {}


def test_a_bare_seed_url_picks_this_module() -> None:
    assert site_for_url(SEED_URL) is site
    assert site_for_url("http://economy.caijing.com.cn/20261101/5120001.shtml") is site
    assert site_for_url("https://www.caijing.com.cn/zt/interop/") is not site


def test_article_urls_are_https_whatever_the_roll_prints() -> None:
    assert site.canonical_url(SEED_URL.replace("https:", "http:")) == SEED_URL
    assert site.canonical_url("http://roll.caijing.com.cn/") == "http://roll.caijing.com.cn/"


# Lists ----------------------------------------------------------------------------------------


def test_the_roll_keeps_every_channel_and_unescapes_titles() -> None:
    entries = site.parse_list(
        roll(
            {
                "contentid": "1",
                "title": "A&quot;B&quot;",
                "url": "https://tech.caijing.com.cn/20261120/1.shtml",
                "published": "11-20 08:00",
                "cat": "科技",
                "caturl": "https://tech.caijing.com.cn/",
            },
            {
                "contentid": "2",
                "title": "宏观",
                "url": "http://economy.caijing.com.cn/20261120/2.shtml",
                "published": "11-20 07:00",
                "cat": "宏观",
                "caturl": "http://economy.caijing.com.cn/",
            },
            {
                "contentid": "3",
                "title": "产经",
                "url": "https://industry.caijing.com.cn/20261119/3.shtml",
                "published": "11-19 22:00",
                "cat": "产经",
                "caturl": "https://industry.caijing.com.cn/",
            },
            {"contentid": "4", "title": "没有链接"},
            "not a record",
            {"contentid": "5", "title": "坏链接", "url": "javascript:void(0)"},
            {
                "contentid": "2",
                "title": "宏观",
                "url": "https://economy.caijing.com.cn/20261120/2.shtml",
                "published": "11-20 07:00",
            },
        )
    )
    assert [(e.url, e.title) for e in entries] == [
        ("https://tech.caijing.com.cn/20261120/1.shtml", 'A"B"'),
        ("https://economy.caijing.com.cn/20261120/2.shtml", "宏观"),
        ("https://industry.caijing.com.cn/20261119/3.shtml", "产经"),
    ]


def test_a_roll_with_a_byte_order_mark_is_still_json() -> None:
    document = roll({"title": "标题", "url": SEED_URL, "published": "10-18 11:26"})
    entries = site.parse_list(Document(document.url, "\ufeff" + document.text))
    assert [(e.url, to_iso(e.published)) for e in entries] == [(SEED_URL, "2023-10-18T03:26:00Z")]


def test_a_broken_roll_falls_back_to_generic_parsing() -> None:
    assert site.parse_list(Document(ROLL_URL, '[{"title":"半截","url":"https:\\/\\/tech.')) == []


def test_the_listing_reads_only_its_list_items() -> None:
    text = (DEMO / "tech.caijing.com.cn" / "index.html").read_text(encoding="utf-8")
    entries = site.parse_list(Document("https://tech.caijing.com.cn/index.html", text))
    urls = [e.url for e in entries]
    assert len(urls) == 5
    # The focus slide, the ranking and the pagination are not list items.
    assert "https://tech.caijing.com.cn/20261118/5127702.shtml" not in urls
    assert not [u for u in urls if "index_" in u or "finance." in u]
    # The picture link comes first in each item but has no text: the title link gives the title.
    assert entries[1].title == "微信内测直接打开淘宝商品链接，外链规则迎来新一轮松绑"
    assert to_iso(entries[1].published) == "2026-11-16T01:12:00Z"


def test_a_page_without_the_list_markup_is_read_generically() -> None:
    html = '<div class="news"><a href="/20261120/5128999.shtml">标题</a><a href="/about/">关于</a></div>'
    entries = site.parse_list(Document("https://tech.caijing.com.cn/", html))
    assert [(e.url, e.title) for e in entries] == [
        ("https://tech.caijing.com.cn/20261120/5128999.shtml", "标题")
    ]


# Pages ----------------------------------------------------------------------------------------


def test_a_gbk_page_without_a_charset_header_decodes_by_its_meta() -> None:
    body = (DEMO / "tech.caijing.com.cn" / "20261119" / "5128240.shtml").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    article = extract_article(site, Document(GBK_URL, decode_body(body, "text/html"), "text/html"))
    assert isinstance(article, Article)
    assert article.title == 'AI眼镜三季度出货量翻番，"百镜大战"提前打响'
    assert article.text.startswith("市场研究机构最新发布的数据显示")
    # Without the meta, detection still finds a Chinese encoding.
    bare = body.replace(b'<meta charset="gbk">', b"")
    assert "端侧大模型" in decode_body(bare, "text/html")


@pytest.mark.parametrize(
    ("lines", "author", "kept"),
    [
        (["文｜《财经》新媒体 韩知远", "正文"], "韩知远", ["正文"]),
        (["《财经》记者 周曼青 宋嘉禾", "正文"], "周曼青、宋嘉禾", ["正文"]),
        (["导语", "记者 王晨"], "王晨", ["导语"]),
        (
            ["记者注意到，淘宝的收银台多了一个选项。"],
            "",
            ["记者注意到，淘宝的收银台多了一个选项。"],
        ),
        (["正文", "又一段", "文｜韩知远"], "", ["正文", "又一段", "文｜韩知远"]),
        (["(责任编辑：林一舟)", "正文"], "", ["(责任编辑：林一舟)", "正文"]),
    ],
)
def test_only_a_byline_names_the_author(lines: list[str], author: str, kept: list[str]) -> None:
    assert split_byline(lines) == (author, kept)


def test_the_body_ends_at_the_keywords_box_wherever_it_is_nested() -> None:
    body = (
        '<div class="article"><h1>标题</h1><span id="pubtime_baidu">2026-11-20 08:00:00</span>'
        '<div class="article-content"><p>第一段正文，足够长的一段文字用来通过最短正文的检查。</p>'
        '<div class="wrap"><p>第二段正文，同样写得足够长，免得被当作空白页面。</p>'
        '<div class="ar_keywords"><div class="news_keywords">关键字：<span>淘宝</span></div></div>'
        "<p>分享到微信</p></div><p>推荐阅读</p>"
        '<p id="editor_baidu">(责任编辑：林一舟)</p></div></div>'
    )
    article = site.extract(page(body))
    assert article is not None
    assert article.text.splitlines() == [
        "第一段正文，足够长的一段文字用来通过最短正文的检查。",
        "第二段正文，同样写得足够长，免得被当作空白页面。",
    ]
    assert (article.title, article.author) == ("标题", "")
    assert to_iso(article.published) == "2026-11-20T00:00:00Z"


def test_older_pages_read_news_time_and_drop_editor_and_keywords() -> None:
    body = (
        '<div class="news_frome"><span class="news_time">2019-05-10 08:32 来源：财经网</span></div>'
        '<div id="the_content"><p>　　旧版页面的正文，一段话。</p><p class="editor">[编辑 某某]</p>'
        # Keywords without the ar_keywords box around them: dropped all the same.
        '<div class="news_keywords">关键字：<span>淘宝</span></div></div>'
    )
    article = site.extract(page(body, head="<title>旧版标题-财经网 - CAIJING.COM.CN</title>"))
    assert article is not None
    assert (article.title, article.text) == ("旧版标题", "旧版页面的正文，一段话。")
    assert to_iso(article.published) == "2019-05-10T00:32:00Z"


def test_a_page_without_a_time_takes_the_lists_time() -> None:
    body = (
        '<div class="article"><h1>标题</h1><div class="article-content"><p>正文。</p></div></div>'
    )
    article = site.extract(page(body))
    assert article is not None and article.published is None
    listed = Entry(article.url, published=datetime(2026, 11, 20, tzinfo=UTC))
    assert article.completed_from(listed).published == listed.published


def test_a_page_of_another_shape_is_left_to_generic_extraction() -> None:
    body = (
        "<article><h1>改版后的标题</h1>"
        + "<p>改版之后的页面结构，站点模块认不出来。</p>" * 12
        + "</article>"
    )
    assert site.extract(page(body)) is None
    article = extract_article(site, page(body))
    assert isinstance(article, Article) and "改版之后的页面结构" in article.text
