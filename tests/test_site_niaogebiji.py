"""鸟哥笔记: the list JSON and its error form, category cards, URLs, times and page fallbacks."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.extract import extract_article
from crawler.model import Article, Document, Entry
from crawler.sites import get_site, site_for_url
from crawler.sites.niaogebiji import (
    ArticleListError,
    parse_article_list,
    parse_printed_time,
    parse_unix_time,
)

RECORDED = (
    Path(__file__).parents[1] / "crawler" / "demo" / "sites" / "niaogebiji" / "www.niaogebiji.com"
)
LIST_URL = "https://www.niaogebiji.com/pc/index/getMoreArticle"
MIRROR = "http://127.0.0.1:8765"
SITE = get_site("niaogebiji")


def recorded(name: str) -> str:
    return (RECORDED / name).read_text(encoding="utf-8")


def article_list(*records: dict[str, object], code: str = "200") -> str:
    return json.dumps({"return_code": code, "return_msg": "success", "return_data": list(records)})


# URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://www.niaogebiji.com/article-214573-1.html",
        "https://www.niaogebiji.com/article-214573-2.html",
        "https://www.niaogebiji.com/article-214573-3.html?from=index#comment",
        "http://niaogebiji.com/article-214573-1.html",
        "https://m.niaogebiji.com/article-214573-1.html",
        "https://WWW.NiaoGeBiJi.com/article-214573.html",
    ],
)
def test_article_variants_share_one_canonical_url(url: str) -> None:
    assert SITE.canonical_url(url) == "https://www.niaogebiji.com/article-214573-1.html"


@pytest.mark.parametrize(
    "url",
    [
        f"{MIRROR}/article-214573-1.html",  # a local mirror keeps its address
        f"{MIRROR}/article-214573-2.html",
        "https://www.niaogebiji.com/cat/109",  # not an article
        "https://www.example.com/article-214573-2.html",  # not this site
    ],
)
def test_other_urls_keep_their_address(url: str) -> None:
    assert SITE.canonical_url(url) == url


def test_article_urls_pick_this_module() -> None:
    assert site_for_url("https://m.niaogebiji.com/article-214806-1.html") is SITE
    assert site_for_url("https://www.niaogebiji.com/cat/109") is not SITE


# The list JSON --------------------------------------------------------------------------------


def test_relative_list_links_resolve_against_the_list_url() -> None:
    text = article_list(
        {"title": "甲", "link": "/article-1001-1.html", "published_at": "1794447686"}
    )
    on_site = SITE.parse_list(Document(LIST_URL, text))
    on_mirror = SITE.parse_list(Document(f"{MIRROR}/pc/index/getMoreArticle", text))
    assert [e.url for e in on_site] == ["https://www.niaogebiji.com/article-1001-1.html"]
    assert [e.url for e in on_mirror] == [f"{MIRROR}/article-1001-1.html"]


def test_recorded_list_escaped_slashes_and_mixed_time_types() -> None:
    text = recorded("pc/index/getMoreArticle.json")
    assert '"link":"\\/article-' in text and '"published_at":1795068160' in text  # the traps
    entries = SITE.parse_list(Document(LIST_URL, text))
    assert [e.published for e in entries] == [
        datetime(2026, 11, 19, 6, 2, 40, tzinfo=UTC),  # a number
        datetime(2026, 11, 16, 12, 5, tzinfo=UTC),  # the repost of a huxiu article
        datetime(2026, 11, 17, 12, 15, 3, tzinfo=UTC),  # a string
        datetime(2026, 11, 12, 1, 41, 26, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1794447686", datetime(2026, 11, 12, 1, 41, 26, tzinfo=UTC)),  # 09:41:26 in Beijing
        (1794447686, datetime(2026, 11, 12, 1, 41, 26, tzinfo=UTC)),
        (1794447686.0, datetime(2026, 11, 12, 1, 41, 26, tzinfo=UTC)),
        (" 1794447686 ", datetime(2026, 11, 12, 1, 41, 26, tzinfo=UTC)),
        ("2026-11-12 09:41:26", datetime(2026, 11, 12, 1, 41, 26, tzinfo=UTC)),
        ("0", None),
        ("", None),
        (None, None),
        (True, None),
        ("昨天", None),
    ],
)
def test_unix_times_as_strings_or_numbers_become_utc(
    value: object, expected: datetime | None
) -> None:
    assert parse_unix_time(value) == expected


def test_error_return_code_gives_no_entries_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    text = json.dumps({"return_code": "500", "return_msg": "请求过于频繁", "return_data": []})
    with caplog.at_level(logging.WARNING, logger="crawler.sites.niaogebiji"):
        assert SITE.parse_list(Document(LIST_URL, text)) == []
    assert "return_code '500'" in caplog.text and "请求过于频繁" in caplog.text
    assert LIST_URL in caplog.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"return_code": 403, "return_msg": "无权限"}', "return_code '403': 无权限"),
        ('{"return_code": "500"}', "return_code '500': no return_msg"),
        ('{"return_data": []}', "return_code ''"),
        ('{"return_code": "200", "return_data": {"list": []}}', "return_data is not a list"),
        ("[1, 2]", "expected a JSON object"),
        ('{"return_code": "200", ', "not valid JSON"),
    ],
)
def test_article_list_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ArticleListError, match=message):
        parse_article_list(text, url=LIST_URL)


def test_records_without_a_link_are_skipped() -> None:
    text = article_list({"title": "无链接"}, {"title": "乙", "link": "/article-1002-1.html"})
    assert [e.title for e in SITE.parse_list(Document(LIST_URL, text))] == ["乙"]


# The category page -------------------------------------------------------------------------


def test_category_cards_only_with_relative_links_on_the_mirror() -> None:
    entries = SITE.parse_list(Document(f"{MIRROR}/cat/109", recorded("cat/109.html")))
    assert [e.url for e in entries] == [
        f"{MIRROR}/article-214806-1.html",
        f"{MIRROR}/article-214573-1.html",
        f"{MIRROR}/article-214322-1.html",
        f"{MIRROR}/article-214105-1.html",
    ]  # the hot list beside the cards (article-213877, -213650) is not the category
    assert entries[1].author == "周知远"
    assert entries[1].published == datetime(2026, 11, 12, 1, 41, 26, tzinfo=UTC)


def test_card_without_a_timepoint_has_no_time() -> None:
    html = """<div class="articleBox clearfix">
        <a href="/article-1003-1.html"><h3 class="articleTitle">丙</h3></a>
        <div class="articleContentInner">摘要</div><a href="/u/x" class="author">某人</a></div>"""
    (entry,) = SITE.parse_list(Document("https://www.niaogebiji.com/cat/109", html))
    assert (entry.url, entry.title, entry.author, entry.published) == (
        "https://www.niaogebiji.com/article-1003-1.html",
        "丙",
        "某人",
        None,
    )


def test_page_without_cards_gives_no_entries(caplog: pytest.LogCaptureFixture) -> None:
    html = '<html><body><a href="/article-1004-1.html">热门</a></body></html>'
    with caplog.at_level(logging.WARNING, logger="crawler.sites.niaogebiji"):
        assert SITE.parse_list(Document("https://www.niaogebiji.com/cat/109", html)) == []
    assert "no div.articleBox cards" in caplog.text


# Article pages ------------------------------------------------------------------------------


def test_missing_write_time_falls_back_to_the_list_time() -> None:
    url = "https://www.niaogebiji.com/article-214806-1.html"
    html = recorded("article-214806-1.html")
    assert "writeTime3" not in html
    listed = datetime(2026, 11, 17, 12, 15, 3, tzinfo=UTC)
    result = extract_article(SITE, Document(url, html), Entry(url, published=listed))
    assert isinstance(result, Article)
    assert result.published == listed
    assert result.author == "林半夏"


def test_the_page_time_wins_over_the_list_time() -> None:
    url = "https://www.niaogebiji.com/article-214573-1.html"
    listed = datetime(2026, 11, 12, 1, 41, 26, tzinfo=UTC)
    result = extract_article(
        SITE, Document(url, recorded("article-214573-1.html")), Entry(url, published=listed)
    )
    assert isinstance(result, Article)
    assert result.published == datetime(2026, 11, 12, 1, 41, tzinfo=UTC)  # 09:41 as printed


def page(header: str, body: str, *, head: str = "") -> str:
    return f"""<html><head>{head}</head><body><div class="articleHeader">{header}</div>
        <div class="pc_content">{body}</div>
        <div class="articleBox clearfix"><a href="/article-9-1.html"><h3 class="articleTitle">别篇</h3></a>
        <a href="/u/other" class="author">别人</a></div></body></html>"""


BODY = '<p label="正文">' + "鸟哥笔记的正文段落，" * 12 + "</p>"


def test_older_header_write_time() -> None:
    html = page('<h1>旧版页面</h1><span class="writeTime">发布于 2026年11月03日 08:05</span>', BODY)
    article = SITE.extract(Document("https://www.niaogebiji.com/article-1-1.html", html))
    assert article is not None
    assert article.published == datetime(2026, 11, 3, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-12 09:41", datetime(2026, 11, 12, 1, 41, tzinfo=UTC)),
        ("发布时间：2026/11/12 09:41:05", datetime(2026, 11, 12, 1, 41, 5, tzinfo=UTC)),
        ("2026-11-12", datetime(2026, 11, 11, 16, 0, tzinfo=UTC)),
        ("3小时前", None),
    ],
)
def test_printed_times_are_beijing_time(text: str, expected: datetime | None) -> None:
    assert parse_printed_time(text) == expected


def test_title_falls_back_to_the_head_when_only_body_headings_are_h1() -> None:
    body = '<h1 label="一级标题">一、正文里的小标题</h1>' + BODY
    og = '<meta property="og:title" content="开放图谱标题"><title>标签标题-鸟哥笔记</title>'
    url = "https://www.niaogebiji.com/article-1-1.html"
    with_og = SITE.extract(Document(url, page("", body, head=og)))
    without_og = SITE.extract(
        Document(url, page("", body, head="<title>标签标题-鸟哥笔记</title>"))
    )
    assert with_og is not None and with_og.title == "开放图谱标题"
    assert without_og is not None and without_og.title == "标签标题"
    assert without_og.text.startswith("一、正文里的小标题\n")  # the heading stays in the text


def test_author_is_never_taken_from_a_related_card() -> None:
    article = SITE.extract(
        Document("https://www.niaogebiji.com/article-1-1.html", page("<h1>题</h1>", BODY))
    )
    assert article is not None and article.author == ""


def test_author_prefix_is_dropped() -> None:
    header = '<h1>题</h1><span class="author">作者：周知远</span>'
    article = SITE.extract(
        Document("https://www.niaogebiji.com/article-1-1.html", page(header, BODY))
    )
    assert article is not None and article.author == "周知远"


def test_captions_keyword_alts_and_site_credit_lines_leave_the_text() -> None:
    alt = "鸟哥笔记,行业动态,淘宝,腾讯,行业动态"
    body = (
        '<p label="正文">本文由 @某人 原创发布于鸟哥笔记，未经许可，禁止转载。</p>'
        + BODY
        + f'<p label="正文"><img src="https://qnssl.niaogebiji.com/a.png" alt="{alt}" title="{alt}"></p>'
        + '<p label="图片描述">某店铺收银台截图，新的支付方式排在第二位</p>'
        + '<p label="正文">-END-</p>'
        + '<p label="正文">本文为作者独立观点，不代表鸟哥笔记立场，未经允许不得转载。</p>'
    )
    article = SITE.extract(
        Document("https://www.niaogebiji.com/article-1-1.html", page("<h1>题</h1>", body))
    )
    assert article is not None
    assert article.text == "鸟哥笔记的正文段落，" * 12


def test_a_paragraph_quoting_a_credit_phrase_is_content() -> None:
    quote = "本文为作者独立观点，" + "但这一段讨论的是平台规则本身，" * 10
    body = BODY + f'<p label="正文">{quote}</p>'
    article = SITE.extract(
        Document("https://www.niaogebiji.com/article-1-1.html", page("<h1>题</h1>", body))
    )
    assert article is not None and article.text.endswith(quote)


def test_page_without_pc_content_is_left_to_generic_extraction() -> None:
    html = (
        "<html><body><h1>改版后的页面</h1><div class='articleMain'><p>正文</p></div></body></html>"
    )
    assert SITE.extract(Document("https://www.niaogebiji.com/article-1-1.html", html)) is None
    assert SITE.extract(Document("https://www.niaogebiji.com/article-1-1.html", "  ")) is None
