"""财经网 (caijing.com.cn): the roll JSON or a channel listing, article pages in two layouts."""

from __future__ import annotations

import html
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import lxml.html
from parsel import Selector

from crawler.dates import BEIJING, date_from_path, parse_datetime, utcnow
from crawler.listing import dedupe_entries, resolve_link
from crawler.model import Article, Document, Entry
from crawler.sites.base import (
    Site,
    opening_tag,
    outer_html,
    parse_fragment,
    parse_head,
    register,
)
from crawler.sites.parsing import has_class
from crawler.text import content_lines, html_lines

# Every channel has a host of its own (tech., finance., economy., industry., …); the path
# carries the day the article was created: /20231018/4965423.shtml.
ARTICLE_URL_RE = re.compile(
    r"^https?://[a-z0-9-]+\.caijing\.com\.cn/20\d{6}/\d+\.shtml", re.IGNORECASE
)
# The roll: https://roll.caijing.com.cn/json/lists1.json (ajax_lists.php answers 403 since
# 2026-07-30). The seeds name it without a query, and that bare URL is the list's identity
# (validators); each request adds a fresh `time=<random>` cache-buster, as the site's own page
# and RSSHub do, so a CDN copy cached by URL is never served in its place. The origin still
# answers If-None-Match with 304, whatever the query.
ROLL_PATH = "/json/lists1.json"
# The roll prints "MM-DD HH:mm": no year.
ROLL_TIME_RE = re.compile(r"(?P<mo>\d{1,2})-(?P<d>\d{1,2})\s+(?P<h>\d{1,2}):(?P<mi>\d{2})")
# A printed page time, possibly with other words around it ("2026-11-10 19:42 来源：…").
PAGE_TIME_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?")
TITLE_SUFFIX_RE = re.compile(r"\s*[-_|]\s*财经网.*$")

# The article (title, time and body), found in the raw page without parsing it.
ARTICLE_TAG = opening_tag("div", css_class="article")
# Body containers, newest layout first.
BODY_XPATHS = (
    f"//div[{has_class('article-content')}]",
    "//div[@id='the_content']",
)
# The keywords box ends the article: everything from it on is sharing and related links.
KEYWORDS_XPATH = f".//div[{has_class('ar_keywords')}]"
# The editor line and keyword spans sometimes sit inside the body: never article text.
DROP_XPATH = (
    f".//*[@id='editor_baidu'] | .//*[{has_class('editor')}] | .//*[{has_class('news_keywords')}]"
)
# A byline as the first lines of the body print it: "文｜《财经》新媒体 韩知远" or
# "《财经》记者 周曼青 宋嘉禾". "记者" must be followed by a blank, so a paragraph opening
# "记者注意到，…" is not taken for one.
BYLINE_RE = re.compile(
    r"^(?:文\s*[|｜/:：]\s*|(?:《财经》|财经网)?\s*(?:新媒体)?\s*(?:特约)?记者\s+)(?P<names>.+)$"
)
BYLINE_OUTLET_RE = re.compile(r"^(?:《财经》|财经网|新媒体|特约|记者|\s)+")
NAMES_RE = re.compile(r"^[\u4e00-\u9fff·]{2,6}(?:[\s、]+[\u4e00-\u9fff·]{2,6}){0,3}$")
BYLINE_LINES = 2


@register
class CaijingSite(Site):
    """财经网: no feed; the roll JSON (every channel) or a channel listing, then every page."""

    id: ClassVar[str] = "caijing"
    name: ClassVar[str] = "财经网"
    aliases: ClassVar[tuple[str, ...]] = ("财经",)
    domains: ClassVar[tuple[str, ...]] = ("caijing.com.cn",)
    url_patterns: ClassVar[tuple[str, ...]] = (ARTICLE_URL_RE.pattern,)

    def canonical_url(self, url: str) -> str:
        """Article URLs on https: the roll still prints http:// for some, seeds use https://."""
        canonical = super().canonical_url(url)
        if canonical.startswith("http://") and ARTICLE_URL_RE.match(canonical):
            return "https://" + canonical[len("http://") :]
        return canonical

    def request_url(self, url: str) -> str:
        """The roll with a fresh cache-buster (matched by path, so a local copy gets one too)."""
        parts = urlsplit(url)
        if parts.path != ROLL_PATH:
            return url
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "time"]
        query.append(("time", f"{random.random():.16f}"))
        return urlunsplit(parts._replace(query=urlencode(query)))

    def parse_list(self, document: Document) -> list[Entry]:
        """Entries of the roll JSON or of a channel listing page (generic parsing otherwise)."""
        stripped = document.text.lstrip("\ufeff \t\r\n")
        if stripped.startswith("["):
            try:
                records = json.loads(stripped)
            except ValueError:
                records = None
            if isinstance(records, list):
                return dedupe_entries(self._roll_entries(records, document.url))
        entries = dedupe_entries(self._listing_entries(document))
        return entries or super().parse_list(document)

    def _roll_entries(self, records: list[Any], base_url: str) -> Iterator[Entry]:
        # Every channel is kept (tech, finance, economy, industry…): the topic query filters.
        for record in records:
            if not isinstance(record, dict) or not isinstance(record.get("url"), str):
                continue
            url = resolve_link(base_url, record["url"], self.canonical_url)
            if url is None:
                continue
            yield Entry(
                url=url,
                # The CMS stores titles HTML-escaped (&quot;) and the JSON passes them on.
                title=html.unescape(str(record.get("title") or "")).strip(),
                published=parse_list_time(str(record.get("published") or ""), url),
            )

    def _listing_entries(self, document: Document) -> Iterator[Entry]:
        for item in Selector(text=document.text).css("ul.list > li"):
            # Each item links twice: the picture (no text) and the title.
            for anchor in item.css("a[href]"):
                title = " ".join("".join(anchor.css("::text").getall()).split())
                url = resolve_link(document.url, anchor.attrib["href"], self.canonical_url)
                if title and url:
                    time = item.css("span.time::text").get("")
                    yield Entry(url=url, title=title, published=parse_list_time(time, url))
                    break

    def extract(self, document: Document) -> Article | None:
        """Title, time, byline and body of either page layout; None when neither is found.

        Only `div.article` (title, time, body) is parsed; a page without it is read whole.
        """
        container = parse_fragment(outer_html(document.text, ARTICLE_TAG))
        if container is not None and (article := _article_in(document, Selector(root=container))):
            return article
        return _article_in(document, Selector(text=document.text))


def _article_in(document: Document, page: Selector) -> Article | None:
    """The article in page: the whole document, or its `div.article` parsed alone."""
    body = _body_element(page)
    if body is None:
        return None
    author, lines = split_byline(html_lines(body))
    title = _page_title(page)
    if not title and (head := parse_head(document.text)) is not None:
        title = _head_title(Selector(root=head))
    return Article(
        url=document.url,
        title=title,
        text="\n".join(content_lines(lines)),
        author=author,
        published=_page_time(page),
    )


def parse_list_time(value: str, url: str, *, now: datetime | None = None) -> datetime | None:
    """A list's time: a full date as printed, else the roll's year-less "MM-DD HH:mm".

    The year-less form takes its day from the URL (/YYYYMMDD/) and only the clock time from
    the roll: the URL is fixed when the article is created and carries the year, while the
    roll's time is when the item was (re)pushed into the roll — after an update it can name
    a later day. The page's own time corrects the clock when the page is fetched. Without a
    date in the URL the year is the latest that does not put the time after `now`.
    """
    if not value.strip():
        return None
    if full := parse_datetime(value):
        return full
    match = ROLL_TIME_RE.fullmatch(value.strip())
    if match is None:
        return None
    month, day = int(match["mo"]), int(match["d"])
    on = date_from_path(url) or _latest_past_day(month, day, now or utcnow())
    if on is None:
        return None
    moment = datetime(on.year, on.month, on.day, int(match["h"]), int(match["mi"]), tzinfo=BEIJING)
    return moment.astimezone(UTC)


def _latest_past_day(month: int, day: int, now: datetime) -> date | None:
    """This year's month-day in Beijing, or last year's when this year's is still ahead."""
    today = now.astimezone(BEIJING).date()
    for year in (today.year, today.year - 1):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 02-29 outside a leap year
            continue
        # A day of slack: the roll is fed by clocks that may run a little ahead.
        if candidate <= today + timedelta(days=1):
            return candidate
    return None


def split_byline(lines: list[str]) -> tuple[str, list[str]]:
    """The author named by a byline among the first lines, and the lines without it.

    Only a byline names the author: the editor ("(责任编辑：…)") edits and is not one.
    """
    for index, line in enumerate(lines[:BYLINE_LINES]):
        match = BYLINE_RE.match(line)
        if match is None:
            continue
        names = BYLINE_OUTLET_RE.sub("", match["names"]).strip()
        if NAMES_RE.match(names):
            return "、".join(re.split(r"[\s、]+", names)), lines[:index] + lines[index + 1 :]
    return "", lines


def _body_element(page: Selector) -> lxml.html.HtmlElement | None:
    for xpath in BODY_XPATHS:
        found = page.xpath(xpath)
        if found:
            body = found[0].root
            _cut_at_keywords(body)
            for node in body.xpath(DROP_XPATH):
                node.drop_tree()
            return body
    return None


def _cut_at_keywords(body: lxml.html.HtmlElement) -> None:
    """Remove the keywords box and everything after it inside the body."""
    markers = body.xpath(KEYWORDS_XPATH)
    if not markers:
        return
    node = markers[0]
    while node is not body:
        parent = node.getparent()
        for sibling in list(node.itersiblings()):
            parent.remove(sibling)
        node = parent
    markers[0].getparent().remove(markers[0])


def _page_title(page: Selector) -> str:
    """div.article's h1 (the container itself when it was parsed alone)."""
    return " ".join("".join(page.css("div.article h1 ::text").getall()).split())


def _head_title(head: Selector) -> str:
    """The <title> without its '-财经网' suffix."""
    return TITLE_SUFFIX_RE.sub("", " ".join(head.css("title::text").get("").split()))


def _page_time(page: Selector) -> datetime | None:
    # #pubtime_baidu on current pages, .news_time on older ones; both Beijing time.
    for css in ("#pubtime_baidu ::text", ".news_time ::text"):
        match = PAGE_TIME_RE.search(" ".join(page.css(css).getall()))
        if match:
            return parse_datetime(match[0])
    return None
