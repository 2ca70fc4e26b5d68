"""虎嗅 (huxiu.com): an RSS feed, Nuxt 3 article pages carrying a devalue payload, older DOM pages."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

import lxml.html
from parsel import Selector

from crawler.dates import from_timestamp, parse_datetime
from crawler.model import Article, Document, Entry
from crawler.sites.base import Site, register
from crawler.sites.parsing import (
    NuxtDataError,
    NuxtPayload,
    has_class,
    joined_text,
    squash,
)
from crawler.text import compact, content_lines, html_lines, is_boilerplate

logger = logging.getLogger(__name__)

# www., m. and the bare host serve one article under /article/{aid}.html; feeds add ?f=rss.
ARTICLE_URL_RE = re.compile(
    r"^(?:https?:)?//(?:www\.|m\.)?huxiu\.com/article/(?P<aid>\d+)\.html(?:[?#].*)?$",
    re.IGNORECASE,
)
CANONICAL_ARTICLE_URL = "https://www.huxiu.com/article/{aid}.html"
# The feed's <type> for a video: its description is only a lead, never the article.
VIDEO_KIND = "video_article"
TITLE_SUFFIX_RE = re.compile(r"\s*[-_|｜]\s*虎嗅网?\s*$")

# Body parts that are not article text: the licensing box and its App promotion, vote widgets,
# image captions.
DROP_XPATH = (
    "//div[contains(concat(' ', normalize-space(@class)), ' neirong-shouquan')]"
    f" | //*[{has_class('text-img-note')}]"
    " | //em[contains(@class, 'vote__bar')] | //div[contains(@class, 'vote__btn')]"
    " | //div[contains(@class, 'vote__time')]"
)
REMARK_XPATH = f"//span[{has_class('text-remarks')}]"
# A credit remark: a short role, a bar, a name (出品｜虎嗅商业组, 作者｜…, 题图｜…, 头图｜…).
CREDIT_RE = re.compile(r"^[^\s｜|，。]{1,6}\s*[｜|]")
CREDIT_AUTHOR_RE = re.compile(r"(?:^|[，,；;\s])作者\s*[｜|:：]\s*(?P<name>[^，,；;（(｜|\n]+)")
# A summary the feed puts before the body: the opening paragraphs run together, cut with "……".
LEAD_ELLIPSIS_RE = re.compile(r"(?:\.{3,}|…+)$")
MIN_LEAD_CHARS = 20

# A script's text is raw in HTML (no entities, ends at the first </script>): a pattern finds it.
NUXT_DATA_RE = re.compile(
    r"""<script\b[^>]*?\sid\s*=\s*["']__NUXT_DATA__["'][^>]*>(?P<payload>.*?)</script\s*>""",
    re.IGNORECASE | re.DOTALL,
)
NUXT_DETAIL_PREFIX = "articleDetail-"
INITIAL_STATE_RE = re.compile(r"window\.__INITIAL_STATE__\s*=\s*")


@register
class HuxiuSite(Site):
    """虎嗅: full text from the feed when it has it, else the page's Nuxt payload or older DOM."""

    id: ClassVar[str] = "huxiu"
    name: ClassVar[str] = "虎嗅"
    aliases: ClassVar[tuple[str, ...]] = ("虎嗅网",)
    domains: ClassVar[tuple[str, ...]] = ("huxiu.com",)
    url_patterns: ClassVar[tuple[str, ...]] = (
        r"^https?://(?:www\.|m\.)?huxiu\.com/article/\d+\.html",
    )

    def canonical_url(self, url: str) -> str:
        """Any host and query of an article page → https://www.huxiu.com/article/{aid}.html."""
        match = ARTICLE_URL_RE.match(url.strip())
        if match is None:  # other pages, and local mirror addresses, keep their identity
            return super().canonical_url(url)
        return CANONICAL_ARTICLE_URL.format(aid=match["aid"])

    def feed_article(self, entry: Entry) -> Article | None:
        """The feed's description as the article, unless it is a video's lead or too short."""
        if entry.kind == VIDEO_KIND or not entry.html:
            return None
        root = parse_body(entry.html)
        text = body_text(root)
        if len(text) < self.min_feed_chars:
            return None
        author = entry.author or credit_author(root)
        return Article(entry.url, entry.title, text, author, entry.published)

    def extract(self, document: Document) -> Article | None:
        """Nuxt 3 payload, then the Nuxt 2 state, then the older DOM; None for anything else."""
        # The payloads are read from the raw page: the DOM is parsed only for older pages.
        return (
            article_from_nuxt_data(document.url, document.text)
            or article_from_initial_state(document.url, document.text)
            or article_from_dom(document.url, Selector(text=document.text))
        )


# Body HTML -------------------------------------------------------------------------------------


def parse_body(html: str) -> lxml.html.HtmlElement:
    """Parse an article body fragment and drop what is never text (licence box, captions)."""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    return clean_body(root)


def clean_body(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """Remove the licensing box, vote widgets and image captions from a body element, in place."""
    for element in root.xpath(DROP_XPATH):
        element.drop_tree()
    return root


def body_text(root: lxml.html.HtmlElement) -> str:
    """One paragraph per line, without credit lines or a lead that repeats the opening."""
    credits = set(credit_lines(root))
    lines = [line for line in content_lines(html_lines(root)) if line not in credits]
    return "\n".join(drop_repeated_lead(lines))


def credit_lines(root: lxml.html.HtmlElement) -> Iterator[str]:
    """Lines of remarks that read as credits (出品｜…, 作者｜…, 题图｜…, 本文来自…).

    body_text drops only whole lines equal to these, so a remark inside a sentence, like
    上一次（9月17日）…, stays: it dates or qualifies the paragraph it sits in.
    """
    for span in root.xpath(REMARK_XPATH):
        for line in html_lines(span):
            if CREDIT_RE.match(line) or is_boilerplate(line):
                yield line


def credit_author(root: lxml.html.HtmlElement) -> str:
    """The writer a credit names (作者｜X, or '…，作者：X' in a syndication line), else ''."""
    for line in html_lines(root)[:12]:  # credits open the article
        if not (CREDIT_RE.match(line) or is_boilerplate(line)):
            continue
        match = CREDIT_AUTHOR_RE.search(line)
        if match:
            return match["name"].strip()
    return ""


def drop_repeated_lead(lines: list[str]) -> list[str]:
    """Drop a first line that is the opening of the body cut short with an ellipsis."""
    if len(lines) < 2 or not LEAD_ELLIPSIS_RE.search(lines[0]):
        return lines
    lead = compact(LEAD_ELLIPSIS_RE.sub("", lines[0]))
    if len(lead) >= MIN_LEAD_CHARS and compact("".join(lines[1:])).startswith(lead):
        return lines[1:]
    return lines


def article_from_nuxt_data(url: str, html: str) -> Article | None:
    """The article in a Nuxt 3 page's __NUXT_DATA__ payload, if it has one."""
    match = NUXT_DATA_RE.search(html)
    text = match["payload"] if match else ""
    if not text:
        return None
    try:
        payload = NuxtPayload.from_json(text)
        for _key, value in payload.find_key(NUXT_DETAIL_PREFIX):
            if isinstance(value, dict) and isinstance(value.get("articleDetail"), dict):
                return article_from_detail(url, value["articleDetail"])
    except NuxtDataError as exc:
        logger.warning("%s: unreadable __NUXT_DATA__ (%s); trying the DOM", url, exc)
    except RecursionError:  # nested deeper than Python recurses: not an article payload
        logger.warning("%s: __NUXT_DATA__ nested too deeply; trying the DOM", url)
    return None


def article_from_initial_state(url: str, html: str) -> Article | None:
    """The article in a Nuxt 2 page's window.__INITIAL_STATE__ (2021–2024 pages)."""
    match = INITIAL_STATE_RE.search(html)
    if match is None:
        return None
    try:
        state, _ = json.JSONDecoder().raw_decode(html, match.end())
    except ValueError:
        logger.warning("%s: unreadable window.__INITIAL_STATE__; trying the DOM", url)
        return None
    detail = _dig(state, "articleDetail", "articleDetail")
    return article_from_detail(url, detail) if isinstance(detail, dict) else None


def article_from_detail(url: str, detail: dict[str, Any]) -> Article | None:
    """An Article from huxiu's articleDetail record (title, content, dateline, user_info)."""
    content = detail.get("content")
    if not isinstance(content, str) or not content.strip():
        return None
    root = parse_body(content)
    username = _dig(detail, "user_info", "username")
    dateline = detail.get("dateline") or detail.get("publish_time")
    return Article(
        url=url,
        title=_text(detail.get("title")),
        text=body_text(root),
        author=_text(username) or credit_author(root),
        published=from_timestamp(dateline) if dateline else None,
    )


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str:
    return squash(value) if isinstance(value, str) else ""


# Older DOM -------------------------------------------------------------------------------------


def article_from_dom(url: str, selector: Selector) -> Article | None:
    """The article of a pre-Nuxt-3 page: .article__title, __time, author-info__username, __content."""
    body = selector.css(".article__content").get()
    if body is None:
        return None
    root = clean_body(lxml.html.fragment_fromstring(body))
    author = _first_text(selector, ".author-info__username")
    return Article(
        url=url,
        title=_first_text(selector, ".article__title") or page_title(selector),
        text=body_text(root),
        author=author or credit_author(root),
        published=_page_time(selector),
    )


def page_title(selector: Selector) -> str:
    """The <title> without its '-虎嗅网' suffix."""
    title = joined_text(selector.css("title::text").getall(), sep=" ")
    return TITLE_SUFFIX_RE.sub("", title)


def _page_time(selector: Selector) -> datetime | None:
    return parse_datetime(_first_text(selector, ".article__time"))


def _first_text(selector: Selector, css: str) -> str:
    """The text of the first element matching css (related-article cards reuse the classes)."""
    found = selector.css(css)
    return joined_text(found[0].css("::text").getall(), sep=" ") if found else ""
