"""Decoding, generic extraction, credit lines and WAF shells."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse

from crawler.extract import Blocked, blocked_reason, decode_body, extract_article, extract_page
from crawler.model import Document, Entry
from crawler.sites import get_site
from crawler.spiders.responses import read_document
from crawler.text import html_to_text, is_boilerplate, strip_boilerplate

PARAGRAPHS = [
    "淘宝天猫向全部用户开放微信支付选项，消费者在收银台即可选择微信完成付款，流程与支付宝基本一致。",
    "腾讯方面确认了合作，微信支付将按统一标准为淘宝天猫商家提供服务，结算周期与费率参照行业通行做法。",
    "业内人士认为，支付打通之后，链接互通和广告合作的推进速度也会加快，平台之间的壁垒正在松动。",
    "记者实测发现，微信支付目前位于支付方式列表靠后的位置，需要手动展开才能选中，部分虚拟商品暂不支持。",
    "对商家来说，变化最直接的是老顾客的复购：以前只能在群里发口令，现在链接可以直接打开并用微信付款。",
    "也有分析师提醒，支付入口的增加并不必然带来交易额的大幅增长，真正的增量要看用户习惯能否随之改变。",
]
PAGE = """<!DOCTYPE html><html><head><meta charset="{charset}"><title>淘宝接入微信支付 - 示例网</title>
<meta property="article:published_time" content="2026-11-20T10:30:00+08:00"></head>
<body><nav><a href="/">首页</a> <a href="/tech">科技</a></nav>
<article><h1>淘宝接入微信支付</h1><p class="meta">作者：王立</p>
<p>本文来自微信公众号“零售观察”（ID：lingshou），作者：周宁，36氪经授权发布。</p>
{body}
<p>该文观点仅代表作者本人，本平台仅提供信息存储空间服务。</p></article>
<footer>2026 示例网 版权所有 京ICP备00000000号</footer></body></html>"""


def page(charset: str = "utf-8") -> str:
    return PAGE.format(charset=charset, body="".join(f"<p>{p}</p>" for p in PARAGRAPHS))


def test_decoding_header_then_meta_then_detection() -> None:
    text = page("gbk")
    gbk = text.encode("gbk")
    assert "淘宝接入微信支付" in decode_body(gbk, "text/html")  # meta says gbk
    assert "淘宝接入微信支付" in decode_body(gbk, "text/html; charset=gbk")  # header
    undeclared = text.replace('<meta charset="gbk">', "").encode("gb18030")
    assert "淘宝接入微信支付" in decode_body(undeclared, "text/html")  # detection: not UTF-8
    utf8 = text.replace('<meta charset="gbk">', "").encode("utf-8")
    assert "淘宝接入微信支付" in decode_body(utf8, "text/html")
    lying = text.replace('<meta charset="gbk">', "").encode("gbk")
    assert "淘宝接入微信支付" in decode_body(lying, "text/html; charset=utf-8")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (page("gbk").encode("gbk"), "text/html"),  # <meta>
        (page("gbk").encode("gbk"), "text/html; charset=gbk"),  # header
        (b"\xef\xbb\xbf" + page("gbk").encode("utf-8"), "text/html"),  # BOM over <meta>
        (page("utf-8").encode("gbk"), "text/html"),  # <meta> lies: GBK labelled UTF-8
        (page("gbk").replace('<meta charset="gbk">', "").encode("gb18030"), "text/html"),
        (page("gbk").replace('<meta charset="gbk">', "").encode("utf-8"), "text/plain"),
        (page().encode("utf-8"), ""),
        # Undeclared, and too short for Scrapy's charset detection (it reads Shift JIS).
        ("<p>微信支付：淘宝</p>".encode("gb18030"), "text/html"),
    ],
)
def test_a_scrapy_response_reads_as_decode_body_decodes_its_bytes(
    body: bytes, content_type: str
) -> None:
    """The spiders reuse Scrapy's decoding of a page that declares its encoding: the text must
    be decode_body's in every case, detection and a lying label included."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = HtmlResponse("https://a.example/p/1", body=body, headers=headers)
    document = read_document(response)
    assert document.text == decode_body(body, content_type)
    assert "微信支付" in document.text
    assert document.content_type == content_type


def test_generic_extraction_drops_navigation_and_credit_lines() -> None:
    article = extract_article(get_site("generic"), Document("https://a.example/p/1", page()))
    assert not isinstance(article, Blocked)
    assert article.title == "淘宝接入微信支付"
    assert article.text.splitlines() == PARAGRAPHS
    assert (
        article.published is not None
        and article.published.isoformat() == "2026-11-20T02:30:00+00:00"
    )


def test_the_generic_extractor_is_a_generic_source_s_own_reader_not_a_fallback() -> None:
    document = Document("https://news.example.com/a.html", page())
    generic = extract_page(get_site("generic"), document)
    assert not isinstance(generic.result, Blocked) and generic.by_site
    # cnBeta's module finds none of its markup in this page: trafilatura stood in for it.
    fallback = extract_page(get_site("cnbeta"), document)
    assert not isinstance(fallback.result, Blocked) and not fallback.by_site


def test_entry_fills_what_the_page_lacks() -> None:
    html = page().replace(
        '<meta property="article:published_time" content="2026-11-20T10:30:00+08:00">', ""
    )
    entry = Entry("https://a.example/p/1", title="列表标题", author="列表作者")
    article = extract_article(get_site("generic"), Document("https://a.example/p/1", html), entry)
    assert not isinstance(article, Blocked)
    assert article.title == "淘宝接入微信支付"  # the page's own title wins
    assert article.author in ("王立", "列表作者")


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>访问验证</title></head><body><p>请完成滑动验证后继续访问</p></body></html>",
        "<html><body><script>var acw_sc__v2='x';document.cookie='acw_sc__v2='+acw_sc__v2;location.reload();</script></body></html>",
        "<html><body></body></html>",
        "<html><body><p>短</p></body></html>",
    ],
)
def test_shells_and_empty_pages_are_blocked(html: str) -> None:
    result = extract_article(get_site("generic"), Document("https://a.example/p/1", html))
    assert isinstance(result, Blocked) and result.reason


def test_a_real_article_mentioning_captcha_is_not_blocked() -> None:
    text = "\n".join(PARAGRAPHS * 4) + "\n有用户反映登录时频繁出现验证码。"
    assert blocked_reason("<p>验证码</p>", text) == ""


def test_html_to_text_one_line_per_block_without_scripts() -> None:
    html = "<div><p>甲<b>乙</b></p><script>var x=1;</script><p>丙<br>丁</p><!-- 注释 --><ul><li>戊</li></ul></div>"
    assert html_to_text(html) == "甲乙\n丙\n丁\n戊"


@pytest.mark.parametrize(
    "line",
    [
        "本文来自微信公众号“零售观察”（ID：lingshou），作者：周宁，36氪经授权发布。",
        "36氪经授权发布。",
        "该文观点仅代表作者本人，36氪平台仅提供信息存储空间服务。",
        "本文来自虎嗅，原文链接：https://www.huxiu.com/article/1.html",
        "出品｜虎嗅商业组",
        "作者｜黄青春",
        "题图｜视觉中国",
        "（责任编辑：林然）",
        "（图片来源：Tech星球）",
        "图片来源@视觉中国",
        "本文为作者独立观点，不代表本站立场，未经允许不得转载。",
        "-END-",
        "责编：王五",
        "头图｜AI生成",
        "译者：李四",
        "原创 周宁 零售观察 2026-11-20 08:00",
    ],
)
def test_credit_lines_are_boilerplate(line: str) -> None:
    assert is_boilerplate(line)


def test_content_quoting_a_credit_phrase_is_kept() -> None:
    long_line = "作者认为，" + "淘宝接入微信支付是平台开放的重要一步，" * 8
    assert not is_boilerplate(long_line)
    assert not is_boilerplate("他说本文来自一次内部讨论")  # does not start the line
    assert strip_boilerplate("作者｜黄青春\n正文第一段") == "正文第一段"
