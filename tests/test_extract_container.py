"""Extraction narrowed to the article container (issue 16 point 4): each site module finds its
article element in the raw page, parses only it (with <head>), and runs its selectors inside.

Per site: chrome outside the container (a sidebar before it, related lists with other dates and
authors after it) never gives the title, date or author; a page without the container is read
as before (the whole page, or generic extraction when the site's layout is not there at all).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crawler.extract import extract_page
from crawler.model import Article, Document
from crawler.sites import get_site
from crawler.sites.base import opening_tag, outer_html, parse_fragment, parse_head, parse_region

# Text written for these tests.
PARAGRAPHS = (
    "城南的旧书市场今年搬进了一座改造过的纺织厂，摊主们在高大的厂房里重新摆开了书架。",
    "来逛的人比往年多了不少，周末的下午常常要排队才能进门，很多人是专门带着孩子来的。",
    "一位做了二十年旧书生意的摊主说，新场地租金更低，雨天也不用再忙着给书盖塑料布。",
    "市场管理方计划明年开放夜间时段，并在二楼增设一个修补旧书的公共工作台供人使用。",
)
BODY_HTML = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
BODY_TEXT = "\n".join(PARAGRAPHS)
TITLE = "旧书市场搬进纺织厂"
AUTHOR = "林知秋"
CHROME_TITLE = "侧栏里的另一篇文章"
CHROME_AUTHOR = "侧栏作者"
CHROME_TIME = "2020-01-02 03:04"


def doc(url: str, body: str, *, head: str = "<title>页面标题</title>") -> Document:
    return Document(url, f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>")


# Finding an element in the raw page ------------------------------------------------------------


def test_outer_html_balances_nested_tags_of_the_same_name() -> None:
    html = (
        '<div class="a"><div class="box x"><div><p>in</p></div><div></div></div><p>after</p></div>'
    )
    assert outer_html(html, opening_tag(css_class="box")) == (
        '<div class="box x"><div><p>in</p></div><div></div></div>'
    )


def test_outer_html_skips_tags_in_comments_scripts_and_styles() -> None:
    inner = "<!-- <div> --><script>var s = '<div><div>';</script><style>div{}</style><p>x</p>"
    html = f"<div id='main'>{inner}</div><div>next</div>"
    assert outer_html(html, opening_tag(id="main")) == f"<div id='main'>{inner}</div>"


def test_outer_html_is_none_when_missing_or_unbalanced() -> None:
    assert outer_html("<div class='other'></div>", opening_tag(css_class="box")) is None
    assert outer_html("<div class='box'><div></div>", opening_tag(css_class="box")) is None


@pytest.mark.parametrize(
    ("html", "found"),
    [
        ('<div class="article">', True),
        ("<div class='x article\ty'>", True),
        ('<DIV data-x="1" class="article">', True),
        ('<div class="article-content">', False),
        ('<div class="main-article">', False),
        ('<div data-class="article">', False),
    ],
)
def test_opening_tag_matches_a_whole_class_token(html: str, found: bool) -> None:
    assert (opening_tag("div", css_class="article").search(html) is not None) is found


def test_fragment_head_and_region_parse_only_their_part() -> None:
    html = "<html><head><title>T</title></head><body><nav>menu</nav><div id='a'><p>x</p></div></body></html>"
    element = parse_fragment(outer_html(html, opening_tag(id="a")))
    assert element is not None and element.text_content() == "x"
    assert parse_fragment(None) is None
    head = parse_head(html)
    assert head is not None and head.findtext(".//title") == "T"
    region = parse_region(html, opening_tag(id="a"))
    assert region is not None and region.findtext(".//title") == "T"
    assert "menu" not in region.text_content()
    assert parse_region(html, opening_tag(id="b")) is None


# Per site: chrome does not leak, a missing container falls back --------------------------------

NIAO_URL = "https://www.niaogebiji.com/article-1-1.html"
NIAO_HEADER = (
    f'<div class="articleHeader"><h1>{TITLE}</h1><div class="articleInfo">'
    f'<a class="author">{AUTHOR}</a><span class="writeTime3">2026-11-12 09:41</span></div></div>'
)
NIAO_BODY = f'<div class="pc_content">{BODY_HTML}</div>'
NIAO_CHROME = (
    f'<div class="sidebar"><h1>{CHROME_TITLE}</h1><a class="author">{CHROME_AUTHOR}</a>'
    f'<span class="writeTime3">{CHROME_TIME}</span></div>'
)
NIAO_RELATED = (
    f'<div class="articleBox"><a class="author">{CHROME_AUTHOR}</a>'
    f'<span class="writeTime3">{CHROME_TIME}</span></div>'
)

CAIJING_URL = "https://tech.caijing.com.cn/20261120/5128999.shtml"
CAIJING_ARTICLE = (
    f'<div class="article"><h1>{TITLE}</h1><div class="article-info">'
    '<span class="news_time">2026-11-12 09:41</span></div>'
    f'<div class="article-content"><p>文｜{AUTHOR}</p>{BODY_HTML}</div></div>'
)
CAIJING_CHROME = (
    f'<div class="main_r"><div class="article-list"><h1>{CHROME_TITLE}</h1>'
    f'<span class="news_time">{CHROME_TIME}</span></div></div>'
)

CNBETA_URL = "https://www.cnbeta.com.tw/articles/tech/1.htm"
CNBETA_ARTICLE = (
    f'<div class="cnbeta-article"><header class="title"><h1>{TITLE}</h1>'
    '<div class="meta"><span>2026-11-12 09:41</span></div></header>'
    f'<div class="article-summary"><p>{PARAGRAPHS[0]}</p></div>'
    f'<div class="article-content">{"".join(f"<p>{p}</p>" for p in PARAGRAPHS[1:])}</div></div>'
)
CNBETA_CHROME = (
    f'<div class="side"><header class="title"><h1>{CHROME_TITLE}</h1>'
    f'<div class="meta"><span>{CHROME_TIME}</span></div></header></div>'
)

KR36_URL = "https://www.36kr.com/p/1.html"
KR36_ARTICLE = (
    f'<div class="article-wrapper common-width"><h1 class="article-title">{TITLE}</h1>'
    f'<div class="article-title-icon"><a class="title-icon-item item-a">{AUTHOR}</a>'
    '<span class="title-icon-item item-time">·2026年11月12日 09:41</span></div>'
    f'<div class="article-content"><div class="articleDetailContent">{BODY_HTML}</div></div></div>'
)
KR36_CHROME = (
    f'<div class="hot-list"><h1 class="article-title">{CHROME_TITLE}</h1>'
    f'<a class="title-icon-item item-a">{CHROME_AUTHOR}</a>'
    f'<span class="title-icon-item item-time">·2020年01月02日 03:04</span></div>'
)

HUXIU_URL = "https://www.huxiu.com/article/1.html"


def _huxiu_payload() -> str:
    detail = {"title": 2, "content": 3, "dateline": 4, "user_info": 5}
    values = [{"articleDetail-1": 1}, {"articleDetail": 6}, TITLE, BODY_HTML, 1794447660]
    values += [{"username": 7}, detail, AUTHOR]
    text = json.dumps(values, ensure_ascii=False).replace("<", "\\u003C")
    return f'<script type="application/json" id="__NUXT_DATA__">{text}</script>'


HUXIU_CHROME = (
    f'<div class="related"><h1 class="article__title">{CHROME_TITLE}</h1>'
    f'<span class="article__time">{CHROME_TIME}</span>'
    f'<span class="author-info__username">{CHROME_AUTHOR}</span></div>'
)
PUBLISHED = datetime(2026, 11, 12, 1, 41, tzinfo=UTC)  # 09:41 in Beijing

# site id → (URL, a page with chrome around its article, author expected)
CHROME_PAGES = {
    "niaogebiji": (NIAO_URL, NIAO_CHROME + NIAO_HEADER + NIAO_BODY + NIAO_RELATED, AUTHOR),
    "caijing": (CAIJING_URL, CAIJING_CHROME + CAIJING_ARTICLE + CAIJING_CHROME, AUTHOR),
    "cnbeta": (CNBETA_URL, CNBETA_CHROME + CNBETA_ARTICLE + CNBETA_CHROME, ""),
    "36kr": (KR36_URL, KR36_CHROME + KR36_ARTICLE + KR36_CHROME, AUTHOR),
    "huxiu": (HUXIU_URL, HUXIU_CHROME + _huxiu_payload() + HUXIU_CHROME, AUTHOR),
}


@pytest.mark.parametrize("site_id", sorted(CHROME_PAGES))
def test_chrome_outside_the_container_does_not_leak(site_id: str) -> None:
    url, body, author = CHROME_PAGES[site_id]
    article = get_site(site_id).extract(doc(url, body))
    assert article is not None
    assert (article.title, article.author, article.published) == (TITLE, author, PUBLISHED)
    assert article.text == BODY_TEXT
    assert CHROME_TITLE not in article.text


def test_every_registered_site_has_a_chrome_page() -> None:
    from crawler.sites import SITES

    assert set(CHROME_PAGES) == set(SITES) - {"generic"}


GENERIC_BODY = f"<article><h1>{TITLE}</h1>{BODY_HTML}</article>"


@pytest.mark.parametrize("site_id", sorted(CHROME_PAGES))
def test_a_page_without_the_site_layout_falls_back_to_generic_extraction(site_id: str) -> None:
    url = CHROME_PAGES[site_id][0]
    document = doc(url, GENERIC_BODY, head=f"<title>{TITLE}</title>")
    assert get_site(site_id).extract(document) is None
    extraction = extract_page(get_site(site_id), document)
    assert extraction.by_site is False
    assert isinstance(extraction.result, Article)
    assert PARAGRAPHS[1] in extraction.result.text


# Per site: the container missing but the site's older markup there — the whole page is read.


def test_niaogebiji_without_its_header_reads_the_whole_page() -> None:
    older = f'<h1>{TITLE}</h1><span class="writeTime">2026-11-12 09:41</span>{NIAO_BODY}'
    article = get_site("niaogebiji").extract(doc(NIAO_URL, older))
    assert article is not None
    assert (article.title, article.published, article.text) == (TITLE, PUBLISHED, BODY_TEXT)


def test_caijing_without_div_article_reads_the_whole_page() -> None:
    older = (
        f'<span class="news_time">2026-11-12 09:41</span>'
        f'<div id="the_content"><p>文｜{AUTHOR}</p>{BODY_HTML}</div>'
    )
    head = f"<title>{TITLE}-财经网 - CAIJING.COM.CN</title>"
    article = get_site("caijing").extract(doc(CAIJING_URL, older, head=head))
    assert article is not None
    assert (article.title, article.author, article.published) == (TITLE, AUTHOR, PUBLISHED)
    assert article.text == BODY_TEXT


def test_caijing_container_without_a_title_takes_the_head_title() -> None:
    body = CAIJING_ARTICLE.replace(f"<h1>{TITLE}</h1>", "")
    head = f"<title>{TITLE}-财经网 - CAIJING.COM.CN</title>"
    article = get_site("caijing").extract(doc(CAIJING_URL, body, head=head))
    assert article is not None and article.title == TITLE


def test_36kr_without_its_wrapper_reads_the_whole_page() -> None:
    unwrapped = KR36_ARTICLE.replace("article-wrapper", "article-box")
    article = get_site("36kr").extract(doc(KR36_URL, unwrapped))
    assert article is not None
    assert (article.title, article.author, article.published) == (TITLE, AUTHOR, PUBLISHED)


def test_cnbeta_with_unbalanced_container_markup_reads_the_whole_page() -> None:
    # An unclosed <div> inside the container: its end cannot be found without parsing.
    broken = CNBETA_ARTICLE.replace(
        '<div class="article-summary">', "<div><div class='article-summary'>"
    )
    article = get_site("cnbeta").extract(doc(CNBETA_URL, broken))
    assert article is not None
    assert (article.title, article.published) == (TITLE, PUBLISHED)
