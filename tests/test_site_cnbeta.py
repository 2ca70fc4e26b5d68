"""cnBeta specifics the recorded-page harness does not pin down: URL identity, titles, layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.dates import to_iso
from crawler.extract import Blocked, extract_article
from crawler.feeds import FeedItem
from crawler.model import Article, Document, Entry
from crawler.sites import get_site, site_for_url
from crawler.sites.cnbeta import canonical_cnbeta_url, clean_feed_title, head_title, parse_html
from crawler.urls import URLError

RECORDED = Path(__file__).parents[1] / "crawler" / "demo" / "sites" / "cnbeta"
DESKTOP_PAGE = RECORDED / "www.cnbeta.com.tw" / "articles" / "tech" / "1591204.htm"
MOBILE_PAGE = RECORDED / "m.cnbeta.com.tw" / "view" / "1590862.htm"
SITE = get_site("cnbeta")


def extract(
    html: str, url: str = "https://www.cnbeta.com.tw/articles/tech/1.htm"
) -> Article | None:
    return SITE.extract(Document(url, html))


@pytest.mark.parametrize(
    ("url", "identity"),
    [
        # Category known: every desktop host and scheme, any query or fragment, one identity.
        (
            "https://www.cnbeta.com.tw/articles/tech/1591204.htm",
            "https://www.cnbeta.com.tw/articles/tech/1591204.htm",
        ),
        (
            "http://cnbeta.com.tw/articles/tech/1591204.htm?from=rss#comments",
            "https://www.cnbeta.com.tw/articles/tech/1591204.htm",
        ),
        (
            "https://WWW.cnbeta.com/articles/tech/1591204.htm",
            "https://www.cnbeta.com.tw/articles/tech/1591204.htm",
        ),
        # Category unknown: mobile pages and the pre-2017 desktop form meet on the mobile page.
        ("https://m.cnbeta.com.tw/view/1591204.htm", "https://m.cnbeta.com.tw/view/1591204.htm"),
        ("http://m.cnbeta.com/view/1591204.htm", "https://m.cnbeta.com.tw/view/1591204.htm"),
        ("http://m.cnbeta.com/view_367197.htm", "https://m.cnbeta.com.tw/view/367197.htm"),
        ("http://www.cnbeta.com/articles/362433.htm", "https://m.cnbeta.com.tw/view/362433.htm"),
        # Not an article, another subsite, a local mirror: the generic canonical form.
        (
            "https://www.cnbeta.com.tw/category/tech.htm",
            "https://www.cnbeta.com.tw/category/tech.htm",
        ),
        (
            "https://hot.cnbeta.com/articles/comic/820893",
            "https://hot.cnbeta.com/articles/comic/820893",
        ),
        (
            "http://127.0.0.1:8123/articles/tech/1591204.htm?f=rss",
            "http://127.0.0.1:8123/articles/tech/1591204.htm",
        ),
    ],
)
def test_canonical_url(url: str, identity: str) -> None:
    assert SITE.canonical_url(url) == identity


def test_canonical_url_keeps_an_unguessable_category_apart() -> None:
    # The mobile URL cannot name the category, so it is not folded into the desktop form.
    desktop = canonical_cnbeta_url("https://www.cnbeta.com.tw/articles/tech/1591204.htm")
    assert canonical_cnbeta_url("https://m.cnbeta.com.tw/view/1591204.htm") != desktop


def test_canonical_url_rejects_a_non_http_url() -> None:
    with pytest.raises(URLError):
        SITE.canonical_url("/articles/tech/1591204.htm")


@pytest.mark.parametrize(
    ("url", "site_id"),
    [
        ("https://www.cnbeta.com.tw/articles/tech/1591204.htm", "cnbeta"),
        ("http://www.cnbeta.com/articles/362433.htm", "cnbeta"),
        ("https://m.cnbeta.com.tw/view/1590862.htm", "cnbeta"),
        ("http://m.cnbeta.com/view_367197.htm", "cnbeta"),
        ("https://www.cnbeta.com.tw/category/tech.htm", "generic"),
        ("https://www.notcnbeta.com.tw/articles/tech/1.htm", "generic"),
    ],
)
def test_site_for_url(url: str, site_id: str) -> None:
    assert site_for_url(url).id == site_id


def test_feed_article_never_trusts_the_description() -> None:
    teaser = (
        "<p>" + "淘宝接入微信支付。" * 80 + '</p><a href="https://www.cnbeta.com.tw/">阅读全文</a>'
    )
    entry = Entry("https://www.cnbeta.com.tw/articles/tech/1.htm", "标题", html=teaser)
    assert SITE.feed_article(entry) is None


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        ("AT&amp;T 削减模型账单", "AT&T 削减模型账单"),
        ("天猫&amp;闲鱼 <b>同步</b>开放", "天猫&闲鱼 同步开放"),
        ("A & B  合作", "A & B 合作"),
        ("&quot;扫码付&quot;上线", '"扫码付"上线'),
    ],
)
def test_clean_feed_title(title: str, clean: str) -> None:
    assert clean_feed_title(title) == clean


def test_parse_feed_item_cleans_the_title_and_canonicalises_the_link() -> None:
    item = FeedItem(
        link="http://www.cnbeta.com/articles/tech/1591377.htm",
        title="天猫&amp;闲鱼同步开放",
        author="Kevo",
        published="Thu, 19 Nov 2026 06:32:18 GMT",
    )
    entry = SITE.parse_feed_item(item)
    assert entry.url == "https://www.cnbeta.com.tw/articles/tech/1591377.htm"
    assert entry.title == "天猫&闲鱼同步开放"
    assert to_iso(entry.published) == "2026-11-19T06:32:18Z"


@pytest.mark.parametrize(
    ("head", "topic", "title"),
    [
        ("微信放开淘宝链接 - 腾讯 - cnBeta.COM", "腾讯", "微信放开淘宝链接"),
        ("微信放开淘宝链接 - 腾讯 - cnBeta.COM", "", "微信放开淘宝链接"),
        # A title that itself holds " - ": the topic the page names decides what goes.
        ("不是小米5 - 小米新旗舰 - 小米 - cnBeta.COM", "小米", "不是小米5 - 小米新旗舰"),
        ("工信部通报 - cnBeta.COM 移动版", "", "工信部通报"),
        ("积极电脑运算_移动版_cnBeta.COM", "", "积极电脑运算"),
        ("cnBeta.COM_中文业界资讯站", "", "cnBeta.COM_中文业界资讯站"),
    ],
)
def test_head_title_strips_the_site_suffix(head: str, topic: str, title: str) -> None:
    root = parse_html(f"<html><head><title>{head}</title></head><body></body></html>")
    assert root is not None
    assert head_title(root, topic=topic) == title


def test_desktop_page_without_h1_falls_back_to_the_head_title() -> None:
    page = DESKTOP_PAGE.read_text(encoding="utf-8")
    page = page.replace("<h1>微信放开淘宝商品链接 聊天中点击即可直接打开</h1>", "")
    assert "<h1>" not in page
    article = extract(page)
    assert article is not None
    assert article.title == "微信放开淘宝商品链接 聊天中点击即可直接打开"


def test_desktop_page_source_is_not_the_author_and_not_text() -> None:
    document = Document(
        "https://www.cnbeta.com.tw/articles/tech/1591204.htm",
        DESKTOP_PAGE.read_text(encoding="utf-8"),
    )
    article = extract_article(SITE, document)
    assert not isinstance(article, Blocked)
    assert article.author == ""
    assert "财经网" not in article.text and "稿源" not in article.text
    # The promotion slot, the topic icon's name and the share bar stay out of the text.
    assert "双11" not in article.text and "分享到" not in article.text
    entry = Entry(article.url, author="Mashiro")
    assert article.completed_from(entry).author == "Mashiro"  # the feed's editor fills it


def test_desktop_body_drops_share_and_read_more_junk() -> None:
    page = """<html><body><div class="cnbeta-article">
      <header class="title"><h1>标题</h1><div class="meta">
        <span class="source">稿源：<a><span>某媒体</span></a></span><span>2026年11月18日 09:15</span>
      </div></header>
      <div class="cnbeta-article-body">
        <div class="article-summary"><div class="article-topic"><a>阿里巴巴</a></div><p>摘要一句。</p></div>
        <div class="article-content"><p>正文第一段。<ins class="adsbygoogle"></ins></p>
          <div class="share-box">分享到：微博 微信</div>
          <p>▲截图自某App</p>
          <p><a href="https://www.cnbeta.com.tw/articles/tech/1.htm">阅读全文</a></p>
          <p>正文第二段。</p></div>
      </div></div></body></html>"""
    article = extract(page)
    assert article is not None
    assert article.text == "摘要一句。\n正文第一段。\n正文第二段。"
    # The time is found even when the source comes first in the meta line.
    assert to_iso(article.published) == "2026-11-18T01:15:00Z"


def test_a_long_line_starting_with_a_triangle_is_content() -> None:
    long_line = "▲" + "这一段以三角符号开头却是正文，" * 4
    page = (
        '<div class="cnbeta-article"><div class="article-content">'
        f"<p>{long_line}</p><p>▲图注</p></div></div>"
    )
    article = extract(page)
    assert article is not None
    assert article.text == long_line


def test_mobile_page_2015_markup() -> None:
    article = extract(
        MOBILE_PAGE.read_text(encoding="utf-8"), "https://m.cnbeta.com.tw/view/1590862.htm"
    )
    assert article is not None
    assert article.title == "工信部开展屏蔽网址链接整改“回头看” 通报三类典型问题"
    assert article.text.startswith("工业和信息化部信息通信管理局")
    assert "摘要" not in article.text and "人民邮电报" not in article.text
    assert "热门评论" not in article.text


def test_mobile_page_without_h1_falls_back_to_the_head_title() -> None:
    page = """<html><head><title>积极电脑运算：让科技还我们幸福_移动版_cnBeta.COM</title></head>
      <body><article id="content_367197" class="article-holder">
      <header class="article-hd"><p class="article-byline"><span>网易科技</span>
      <time class="time">2015-01-31 22:03:47</time></p></header>
      <div class="article-summ"><b>摘要：</b>摘要。</div>
      <div class="articleCont"><p>正文。</p></div></article></body></html>"""
    article = extract(page, "https://m.cnbeta.com.tw/view/367197.htm")
    assert article is not None
    assert article.title == "积极电脑运算：让科技还我们幸福"
    assert article.text == "摘要。\n正文。"
    assert to_iso(article.published) == "2015-01-31T14:03:47Z"


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<!-- an empty document -->",
        "<html><body><p>cnBeta.COM_中文业界资讯站 首页</p></body></html>",
        '<div class="cnbeta-article"><header class="title"><h1>只有标题</h1></header></div>',
    ],
)
def test_unknown_markup_hands_over_to_generic_extraction(html: str) -> None:
    assert extract(html) is None


def test_parse_list_follows_article_links_across_cnbeta_hosts() -> None:
    page = """<html><body>
      <ul class="nav"><li><a href="/">首页</a></li><li><a href="/category/tech.htm">科技</a></li>
        <li><a href="/topics/9.htm">阿里巴巴</a></li></ul>
      <div class="items-area">
        <div class="item"><a href="//www.cnbeta.com.tw/articles/tech/1591377.htm"><img src="t.jpg"></a>
          <dl><dt><a href="//www.cnbeta.com.tw/articles/tech/1591377.htm">淘宝全量接入微信支付</a></dt></dl></div>
        <div class="item"><dl><dt><a href="/articles/science/1591290.htm?from=home">海底光缆变身地震仪</a></dt></dl></div>
        <div class="item"><a href="http://m.cnbeta.com/view_367197.htm" title="旧的移动版链接"><img src="m.jpg"></a></div>
        <div class="item"><a href="http://www.cnbeta.com/articles/362433.htm">旧的电脑版链接</a></div>
        <div class="item"><a href="https://www.example.com/articles/tech/1.htm">别的网站</a></div>
      </div></body></html>"""
    entries = SITE.parse_list(Document("https://www.cnbeta.com.tw/", page))
    assert [(e.url, e.title) for e in entries] == [
        ("https://www.cnbeta.com.tw/articles/tech/1591377.htm", "淘宝全量接入微信支付"),
        ("https://www.cnbeta.com.tw/articles/science/1591290.htm", "海底光缆变身地震仪"),
        ("https://m.cnbeta.com.tw/view/367197.htm", "旧的移动版链接"),
        ("https://m.cnbeta.com.tw/view/362433.htm", "旧的电脑版链接"),
    ]


def test_parse_list_keeps_a_local_mirror_as_it_is() -> None:
    page = (
        '<a href="/articles/tech/1591204.htm">微信放开淘宝商品链接</a><a href="/about.htm">关于</a>'
    )
    entries = SITE.parse_list(Document("http://127.0.0.1:8123/", page))
    assert [e.url for e in entries] == ["http://127.0.0.1:8123/articles/tech/1591204.htm"]


def test_parse_list_of_an_empty_page() -> None:
    assert SITE.parse_list(Document("https://www.cnbeta.com.tw/", "  ")) == []


def test_a_page_declaring_its_encoding_still_parses() -> None:
    page = '<?xml version="1.0" encoding="utf-8"?>\n' + DESKTOP_PAGE.read_text(encoding="utf-8")
    article = extract(page)
    assert article is not None
    assert article.title == "微信放开淘宝商品链接 聊天中点击即可直接打开"
