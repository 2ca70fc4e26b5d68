"""36氪 specifics the recorded-page harness does not pin down: URLs, dates, the encrypted
page state, credit lines, the DOM and pre-2019 fallbacks, the anti-bot shell."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from crawler.dates import to_iso
from crawler.extract import Blocked, extract_article
from crawler.feeds import FeedItem
from crawler.model import Document
from crawler.sites import get_site, site_for_url
from crawler.sites.kr36 import (
    STATE_KEY,
    StateError,
    article_data,
    body_text,
    credited_author,
    decrypt_state,
    parse_dom_time,
    read_initial_state,
)

RECORDED = Path(__file__).parents[1] / "crawler" / "demo" / "sites" / "36kr"
ENCRYPTED_PAGE = RECORDED / "www.36kr.com" / "p" / "3912047785610501.html"
BROKEN_STATE_PAGE = RECORDED / "www.36kr.com" / "p" / "3911873310742787.html"
SHELL_PAGE = RECORDED / "36kr.com" / "p" / "3913688451203077.html"
SITE = get_site("36kr")
BODY = (
    "<p>文｜韩知远</p>"
    "<p>淘宝的收银台里，微信支付成了默认选项之一，商家说变化来得比预想慢。</p>"
    '<p class="image-wrapper"><img src="https://img.36krcdn.com/x.jpg"></p>'
    '<p class="img-desc">一家店铺的收款后台截图</p>'
    "<h2>支付之后是链接</h2>"
    "<p>链接能否直接打开，仍是商家最关心的事。</p>"
)


def encrypt_state(state: dict[str, Any], key: bytes = STATE_KEY) -> str:
    """What 36kr's server does: JSON, PKCS7, AES-128-ECB, base64."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(json.dumps(state, ensure_ascii=False).encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def state_of(body: str = BODY, **fields: Any) -> dict[str, Any]:
    data = {
        "itemId": 3900000000000001,
        "widgetTitle": "淘宝接入微信支付之后",
        "author": "韩知远",
        "publishTime": 1794652327000,  # 2026-11-14 18:32:07 Beijing time
        "widgetContent": body,
        **fields,
    }
    return {"navigator": {}, "articleDetail": {"articleDetailData": {"code": 0, "data": data}}}


def page_with(script: str, dom: str = "", title: str = "淘宝接入微信支付之后-36氪") -> Document:
    html = (
        f"<!DOCTYPE html><html><head><title>{title}</title></head>"
        f'<body><div id="app">{dom}</div><script>{script}</script></body></html>'
    )
    return Document("https://www.36kr.com/p/3900000000000001", html)


DOM = (
    '<h1 class="article-title margin-bottom-20 common-width">DOM 里的标题</h1>'
    '<div class="article-title-icon"><a class="title-icon-item item-a" href="/user/1">周屿</a>'
    '<span class="title-icon-item item-time">·2026-11-05 09:12</span></div>'
    '<div class="common-width content articleDetailContent kr-rich-text-wrapper">'
    f"{BODY}</div>"
)


# URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://36kr.com/p/3912047785610501?f=rss",
        "https://www.36kr.com/p/3912047785610501",
        "http://m.36kr.com/p/3912047785610501#comments",
        "https://WWW.36KR.COM/p/3912047785610501/?utm_source=weixin&channel=app",
        "https://36kr.com/p/3912047785610501.html?ktm_source=feed",
    ],
)
def test_every_host_and_query_of_an_article_is_one_identity(url: str) -> None:
    assert SITE.canonical_url(url) == "https://www.36kr.com/p/3912047785610501"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        # The recorded copy is reached through local addresses: never rewrite those.
        (
            "http://127.0.0.1:43117/p/3912047785610501?f=rss",
            "http://127.0.0.1:43117/p/3912047785610501",
        ),
        ("https://eu.36kr.com/zh/p/3912047785610501", "https://eu.36kr.com/zh/p/3912047785610501"),
        ("https://36kr.com/newsflashes/3913001?f=rss", "https://www.36kr.com/newsflashes/3913001"),
    ],
)
def test_other_hosts_and_paths_keep_their_address(url: str, canonical: str) -> None:
    assert SITE.canonical_url(url) == canonical


def test_article_urls_pick_the_36kr_module() -> None:
    assert site_for_url("https://36kr.com/p/3912047785610501").id == "36kr"
    assert site_for_url("https://m.36kr.com/p/3912047785610501").id == "36kr"
    assert site_for_url("https://eu.36kr.com/zh/p/1").id != "36kr"


# Dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "utc"),
    [
        ("2026-11-15 11:05:44  +0800", "2026-11-15T03:05:44Z"),  # the current feed
        ("2026-11-15 11:05:44 +0800", "2026-11-15T03:05:44Z"),
        ("Wed, 26 Oct 2016 16:28:46 +0800", "2016-10-26T08:28:46Z"),  # the 2016 feed
        ("2016-10-26 16:53:42", "2016-10-26T08:53:42Z"),  # no zone: Beijing time
    ],
)
def test_feed_dates_as_36kr_prints_them(printed: str, utc: str) -> None:
    entry = SITE.parse_feed_item(FeedItem(link="https://36kr.com/p/1?f=rss", published=printed))
    assert to_iso(entry.published) == utc


@pytest.mark.parametrize(
    ("printed", "utc"),
    [
        ("·2026-11-05 09:12", "2026-11-05T01:12:00Z"),
        ("· 2026年11月13日 09:12", "2026-11-13T01:12:00Z"),
        ("·2026-11-13", "2026-11-12T16:00:00Z"),
        ("·3小时前", None),
        ("·昨天 10:20", None),
        ("·11月13日", None),  # no year: unknowable
        ("", None),
    ],
)
def test_dom_times_absolute_or_none(printed: str, utc: str | None) -> None:
    assert to_iso(parse_dom_time(printed)) == utc


# The encrypted page state ------------------------------------------------------------------


def test_encrypted_state_round_trips() -> None:
    state = state_of()
    script = "window.initialState=" + json.dumps({"state": encrypt_state(state), "isEncrypt": True})
    assert read_initial_state(page_with(script).text) == state


def test_article_from_an_encrypted_state() -> None:
    script = "window.initialState=" + json.dumps(
        {"state": encrypt_state(state_of()), "isEncrypt": True}
    )
    article = SITE.extract(page_with(script, DOM))
    assert article is not None
    assert (article.title, article.author) == ("淘宝接入微信支付之后", "韩知远")
    assert article.published == datetime(2026, 11, 14, 10, 32, 7, tzinfo=UTC)
    assert article.text.splitlines() == [
        "淘宝的收银台里，微信支付成了默认选项之一，商家说变化来得比预想慢。",
        "支付之后是链接",
        "链接能否直接打开，仍是商家最关心的事。",
    ]


def test_a_state_under_another_key_is_an_error_naming_the_key() -> None:
    ciphertext = encrypt_state(state_of(), key=b"0123456789abcdef")
    with pytest.raises(StateError, match="changed its key"):
        decrypt_state(ciphertext)


@pytest.mark.parametrize("ciphertext", ["not base64!", base64.b64encode(b"short").decode()])
def test_garbage_ciphertext_is_a_state_error(ciphertext: str) -> None:
    with pytest.raises(StateError):
        decrypt_state(ciphertext)


def test_an_undecryptable_state_falls_back_to_the_dom(caplog: pytest.LogCaptureFixture) -> None:
    script = 'window.initialState={"state":"' + encrypt_state(state_of(), key=b"k" * 16) + '",'
    script += '"isEncrypt":true}'
    with caplog.at_level(logging.WARNING, logger="crawler.sites.kr36"):
        article = SITE.extract(page_with(script, DOM))
    assert article is not None and article.title == "DOM 里的标题"
    assert "changed its key" in caplog.text


def test_the_recorded_encrypted_page_really_is_encrypted() -> None:
    html = ENCRYPTED_PAGE.read_text(encoding="utf-8")
    assert '"isEncrypt":true' in html and '"widgetContent"' not in html
    data = article_data(read_initial_state(html) or {})
    assert data is not None and data["widgetTitle"].startswith("淘宝接入微信支付两年")


def test_the_recorded_dom_page_has_a_state_that_is_not_json() -> None:
    with pytest.raises(StateError, match="not JSON"):
        read_initial_state(BROKEN_STATE_PAGE.read_text(encoding="utf-8"))


# Plain state, DOM and pre-2019 fallbacks ---------------------------------------------------


def test_plain_state_wins_over_the_dom() -> None:
    script = "window.initialState=" + json.dumps(state_of(), ensure_ascii=False) + ";"
    article = SITE.extract(page_with(script, DOM))
    assert article is not None
    assert (article.title, article.author) == ("淘宝接入微信支付之后", "韩知远")


def test_state_without_title_or_time_takes_the_page_title() -> None:
    state = state_of(widgetTitle="", publishTime=None)
    article = SITE.extract(page_with("window.initialState=" + json.dumps(state)))
    assert article is not None
    assert (article.title, article.published) == ("淘宝接入微信支付之后", None)


@pytest.mark.parametrize(
    "state", [{"navigator": {}}, state_of(body=""), state_of(body="   ")], ids=str
)
def test_state_without_an_article_body_falls_back_to_the_dom(state: dict[str, Any]) -> None:
    article = SITE.extract(page_with("window.initialState=" + json.dumps(state), DOM))
    assert article is not None
    assert (article.title, article.author) == ("DOM 里的标题", "周屿")
    assert to_iso(article.published) == "2026-11-05T01:12:00Z"
    assert "一家店铺的收款后台截图" not in article.text
    assert article.text.startswith("淘宝的收银台里")


@pytest.mark.parametrize("title", ["淘宝接入微信支付之后_36氪", "淘宝接入微信支付之后 - 36氪"])
def test_dom_without_h1_takes_the_title_without_the_site_name(title: str) -> None:
    dom = DOM.replace("h1", "h2")
    article = SITE.extract(page_with("", dom, title=title))
    assert article is not None and article.title == "淘宝接入微信支付之后"


def test_pre_2019_pages_are_read_from_their_props() -> None:
    props = {
        "detailArticle|post": {
            "id": 5055230,
            "title": "支付牌照的幕后故事",
            "content": BODY,
            "published_at": "2016-10-26 16:53:42",
            "user": {"name": "周天"},
        },
        "hotPostsOf30|hotPost": [],
    }
    script = "var props=" + json.dumps(props, ensure_ascii=False) + ',locationnal={"pathname":"/p"}'
    article = SITE.extract(page_with(script))
    assert article is not None
    assert (article.title, article.author) == ("支付牌照的幕后故事", "周天")
    assert to_iso(article.published) == "2016-10-26T08:53:42Z"
    assert article.text.splitlines()[0].startswith("淘宝的收银台里")


def test_the_anti_bot_shell_is_blocked_not_an_article() -> None:
    document = Document("https://36kr.com/p/3913688451203077", SHELL_PAGE.read_text("utf-8"))
    assert SITE.extract(document) is None
    assert isinstance(extract_article(SITE, document), Blocked)


# Body text and credits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "credit",
    [
        "本文来自微信公众号 “潮汐商业评论”（ID：chaoxi_biz），作者：林一舟，36氪经授权发布。",
        "文来自微信公众号 “潮汐商业评论”（ID：chaoxi_biz），作者：林一舟，36氪经授权发布。",
        "编者按：本文来源于微信公众号“潮汐商业评论”，36氪经授权发布。",
        "编者按：本文来自微信公众号“潮汐”，作者林一舟，授权 36Kr 发布，转载请联系原作者。",
        "本文来自潮汐资本，内容为合伙人在年会上的分享。36氪经授权首发。",
        "编者按：本文来自潮汐资本，作者林一舟，天使投资人。",
        "本文作者林一舟，首发于微信公众号潮汐观察（chaoxi_gc）",
        "责编：唐宁",
        "译者：Teresa",
        "编辑｜苏禾",
        "神译局是36氪旗下编译团队，关注科技、商业、职场、生活等领域。",
        "注：我是36氪韩知远，关注电商与支付，欢迎交流，微信：hzy2026",
    ],
)
def test_credit_lines_are_dropped(credit: str) -> None:
    body = f"<p>微信支付接入淘宝两年，商家的账本变了。</p><p>{credit}</p>"
    assert body_text(body) == "微信支付接入淘宝两年，商家的账本变了。"


@pytest.mark.parametrize(
    "content",
    [
        "有商家发现，自己拍的商品图被人未经授权发布到了别的店铺。",
        "一位天猫店负责人告诉36氪，微信支付订单的占比在逐月上升。",
    ],
)
def test_content_that_mentions_36kr_or_authorisation_is_kept(content: str) -> None:
    assert body_text(f"<p>{content}</p>") == content


def test_captions_are_dropped_whatever_other_classes_they_carry() -> None:
    body = '<p>正文。</p><p class="img-desc" label="图片描述" classname="img-desc">说明</p>'
    body += '<p class="center img-desc">另一个说明</p><p>图后的正文。</p>'
    assert body_text(body) == "正文。\n图后的正文。"


@pytest.mark.parametrize(
    ("body", "author"),
    [
        (BODY, "韩知远"),
        (
            '<p>正文。</p><p class="editor-note">本文来自微信公众号<a href="https://mp.weixin.qq.com/s/x">'
            "“潮汐商业评论”（ID：chaoxi_biz）</a>，作者：林一舟，36氪经授权发布。</p>",
            "林一舟",
        ),
        ("<p>正文里说，作者：某人曾经写过。</p>", ""),
        ("<p>正文。</p>", ""),
    ],
)
def test_the_credited_author(body: str, author: str) -> None:
    assert credited_author(body) == author


def test_feed_entries_take_the_credited_author_unless_the_feed_names_one() -> None:
    item = FeedItem(link="https://36kr.com/p/1?f=rss", html=BODY)
    assert SITE.parse_feed_item(item).author == "韩知远"
    named = FeedItem(link="https://36kr.com/p/1?f=rss", html=BODY, author="周天")
    assert SITE.parse_feed_item(named).author == "周天"


def test_a_short_feed_description_sends_the_crawl_to_the_page() -> None:
    short = SITE.parse_feed_item(FeedItem(link="https://36kr.com/p/1?f=rss", html="<p>摘要。</p>"))
    assert SITE.feed_article(short) is None
    full = SITE.parse_feed_item(FeedItem(link="https://36kr.com/p/1?f=rss", html=BODY * 20))
    article = SITE.feed_article(full)
    assert article is not None and article.url == "https://www.36kr.com/p/1"
    assert "收款后台截图" not in article.text and "文｜" not in article.text
