"""cnBeta: a teaser-only feed, so every article page is fetched and read from its server-rendered DOM."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import datetime
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from crawler.dates import parse_datetime
from crawler.feeds import FeedItem
from crawler.listing import dedupe_entries
from crawler.model import Article, Document, Entry
from crawler.sites.base import Site, opening_tag, parse_region, register
from crawler.sites.parsing import css
from crawler.text import content_lines, html_lines
from crawler.urls import URLError, canonicalize_url

DESKTOP_HOSTS = frozenset({"www.cnbeta.com.tw", "cnbeta.com.tw", "www.cnbeta.com", "cnbeta.com"})
MOBILE_HOSTS = frozenset({"m.cnbeta.com.tw", "m.cnbeta.com"})
_CATEGORY_PATH_RE = re.compile(r"^/articles/(?P<cat>[a-z]+)/(?P<id>\d+)\.htm$")
_DESKTOP_ID_PATH_RE = re.compile(r"^/articles/(?P<id>\d+)\.htm$")
# /view/123.htm today, /view_123.htm on the 2015 mobile site.
_MOBILE_ID_PATH_RE = re.compile(r"^/view[/_](?P<id>\d+)\.htm$")
_ARTICLE_PATH_RE = re.compile(r"^/articles/(?:[a-z]+/)?\d+\.htm$|^/view[/_]\d+\.htm$")

# Never article text, wherever it sits in the summary or the content: the topic icon, the
# sitewide promotion slot, ad units and their loaders, share widgets.
JUNK_SELECTORS = (
    ".topic",
    ".article-topic",
    ".article-global",
    "ins.adsbygoogle",
    "script",
    "style",
    ".article-share-code",
    ".share-box",
    "#cb_share",
)
_JUNK = ", ".join(JUNK_SELECTORS)  # one pass over the body finds them all
# Image captions marked with a triangle (syndicated pieces: "▲截图自某App") say nothing without
# the picture; a long line that happens to start with one is kept.
_CAPTION_RE = re.compile(r"^[▲△]")
_CAPTION_MAX = 40
_SUMMARY_LABEL_RE = re.compile(r"^摘要[:：]\s*")
# "{title} - {topic} - cnBeta.COM", "{title} - cnBeta.COM 移动版", "{title}_移动版_cnBeta.COM".
_MOBILE_TITLE_SUFFIX_RE = re.compile(
    r"\s*(?:_移动版_cnBeta\.COM|-\s*cnBeta\.COM\s*移动版)\s*$", re.I
)
_DESKTOP_TITLE_SUFFIX_RE = re.compile(r"\s+-\s+cnBeta\.COM\s*$", re.I)
# The desktop and mobile layouts' article elements, found in the raw page without parsing it.
DESKTOP_TAG = opening_tag("div", css_class="cnbeta-article")
MOBILE_TAG = opening_tag("article", css_class="article-holder")
_XML_DECLARATION_RE = re.compile(r"^\s*<\?xml[^>]*\?>")


@register
class CnbetaSite(Site):
    """cnBeta.COM: RSS teasers from backend.php; title, time and body from each article page."""

    id = "cnbeta"
    name = "cnBeta"
    aliases: ClassVar[tuple[str, ...]] = ("cnBeta.COM",)
    domains: ClassVar[tuple[str, ...]] = ("cnbeta.com.tw", "cnbeta.com")
    url_patterns = (
        r"^https?://(?:www\.)?cnbeta\.com(?:\.tw)?/articles/",
        r"^https?://m\.cnbeta\.com(?:\.tw)?/view[/_]\d+\.htm",
    )

    def canonical_url(self, url: str) -> str:
        """One identity per article across cnBeta's hosts (see `canonical_cnbeta_url`)."""
        return canonical_cnbeta_url(url)

    def parse_feed_item(self, item: FeedItem) -> Entry:
        """The generic entry, with a CDATA title's escaped entities and tags resolved."""
        entry = super().parse_feed_item(item)
        return replace(entry, title=clean_feed_title(entry.title))

    def feed_article(self, entry: Entry) -> Article | None:
        """Never: the description is a teaser and a 阅读全文 link, whatever its length."""
        return None

    def parse_list(self, document: Document) -> list[Entry]:
        """Article links of a home, category or mobile list page, whichever cnBeta host links."""
        root = parse_html(document.text)
        return parse_article_links(root, document.url) if root is not None else []

    def extract(self, document: Document) -> Article | None:
        """The current desktop layout, else the mobile layout; None hands over to generic."""
        # Each layout's article element is parsed alone (with <head>) when the raw page has it.
        for opening, extract_layout in (
            (DESKTOP_TAG, extract_desktop),
            (MOBILE_TAG, extract_mobile),
        ):
            region = parse_region(document.text, opening)
            if region is not None and (article := extract_layout(region, document.url)):
                return article
        root = parse_html(document.text)
        if root is None:
            return None
        return extract_desktop(root, document.url) or extract_mobile(root, document.url)


def canonical_cnbeta_url(url: str) -> str:
    """Map cnBeta's URL forms onto one identity where the URL alone makes that unambiguous.

    An article is `/articles/{cat}/{id}.htm` on the desktop hosts (www.cnbeta.com.tw, formerly
    www.cnbeta.com): those all become https://www.cnbeta.com.tw/articles/{cat}/{id}.htm, the form
    the feed links to. The mobile page `/view/{id}.htm` (2015: `/view_{id}.htm`) and the old
    desktop `/articles/{id}.htm` carry no category, which cannot be guessed, so they become the
    one category-free address the site still serves, https://m.cnbeta.com.tw/view/{id}.htm.
    Any other host (a local mirror on 127.0.0.1 included) gets the generic canonical form.
    """
    generic = canonicalize_url(url)
    parts = urlsplit(generic)
    host, path = parts.hostname or "", parts.path
    if host in DESKTOP_HOSTS:
        if match := _CATEGORY_PATH_RE.match(path):
            return f"https://www.cnbeta.com.tw/articles/{match['cat']}/{match['id']}.htm"
        if match := _DESKTOP_ID_PATH_RE.match(path):
            return f"https://m.cnbeta.com.tw/view/{match['id']}.htm"
    if host in MOBILE_HOSTS and (match := _MOBILE_ID_PATH_RE.match(path)):
        return f"https://m.cnbeta.com.tw/view/{match['id']}.htm"
    return generic


def parse_article_links(root: lxml.html.HtmlElement, page_url: str) -> list[Entry]:
    """Entries for the article links of a page, in order, one per identity, titled by text.

    The generic list parser keeps only links to the page's own host, but cnBeta pages link
    across www./m. and .com/.com.tw, and the canonical identity moves hosts besides.
    """
    page_host = urlsplit(page_url).hostname
    entries = []
    for anchor in root.iter("a"):
        url = urljoin(page_url, (anchor.get("href") or "").strip())
        parts = urlsplit(url)
        own = parts.hostname in DESKTOP_HOSTS | MOBILE_HOSTS or parts.hostname == page_host
        if not own or not _ARTICLE_PATH_RE.match(parts.path):
            continue
        try:
            identity = canonical_cnbeta_url(url)
        except URLError:
            continue
        entries.append(
            Entry(identity, _element_text(anchor) or (anchor.get("title") or "").strip())
        )
    return dedupe_entries(entries)


def clean_feed_title(title: str) -> str:
    """A feed title as text: CDATA keeps `&amp;` and tags literally, feedparser passes them on."""
    text = html.unescape(re.sub(r"<[^>]+>", "", title))
    return " ".join(text.split())


def parse_html(text: str) -> lxml.html.HtmlElement | None:
    """The page's element tree, or None for an empty or unparsable body."""
    # lxml refuses a str that declares its encoding (an XHTML page's <?xml …?> line).
    text = _XML_DECLARATION_RE.sub("", text, count=1)
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return None


def extract_desktop(root: lxml.html.HtmlElement, url: str) -> Article | None:
    """The www page: div.cnbeta-article, header.title h1 / div.meta, summary + content."""
    container = _first(root, "div.cnbeta-article")
    content = _first(container, "div.article-content") if container is not None else None
    if container is None or content is None:
        return None
    summary = _first(container, "div.article-summary")
    topic = _topic_name(summary) if summary is not None else ""
    title = _element_text(_first(container, "header.title h1")) or head_title(root, topic=topic)
    published = _first_time(css(container, "header.title div.meta span"))
    text = body_text([summary, content])
    return Article(url=url, title=title, text=text, published=published)


def extract_mobile(root: lxml.html.HtmlElement, url: str) -> Article | None:
    """The m. page (2015 markup, kept by m.cnbeta.com.tw): h1.article-tit, time.time, summ + cont."""
    holder = _first(root, "article.article-holder")
    content = _first(holder, "div.articleCont") if holder is not None else None
    if holder is None or content is None:
        return None
    title = _element_text(_first(holder, "h1.article-tit")) or head_title(root)
    published = _first_time(css(holder, "time.time, .article-byline time"))
    text = body_text([_first(holder, "div.article-summ"), content])
    return Article(
        url=url, title=title, text=_SUMMARY_LABEL_RE.sub("", text, count=1), published=published
    )


def body_text(parts: list[lxml.html.HtmlElement | None]) -> str:
    """Clean text of the body elements: junk elements, credit lines and captions removed."""
    lines: list[str] = []
    for part in parts:
        if part is None:
            continue
        for junk in css(part, _JUNK):
            junk.drop_tree()
        part.tail = None  # whitespace or the next block's furniture, never this body's text
        lines += html_lines(part)
    return "\n".join(line for line in content_lines(lines) if not _is_caption(line))


def head_title(root: lxml.html.HtmlElement, *, topic: str = "") -> str:
    """The <title> without cnBeta's suffix: ' - {topic} - cnBeta.COM' or the mobile ones."""
    title = " ".join(_element_text(_first(root, "title")).split())
    if _MOBILE_TITLE_SUFFIX_RE.search(title):
        return _MOBILE_TITLE_SUFFIX_RE.sub("", title)
    if not _DESKTOP_TITLE_SUFFIX_RE.search(title):
        return title
    title = _DESKTOP_TITLE_SUFFIX_RE.sub("", title)
    # The page names its topic in the summary's topic block; without it, the last part is it.
    if topic and title.endswith(f" - {topic}"):
        return title.removesuffix(f" - {topic}")
    head, separator, _ = title.rpartition(" - ")
    return head if separator else title


def _topic_name(summary: lxml.html.HtmlElement) -> str:
    for element in css(summary, ".topic img, .topic a"):
        name = (element.get("title") or element.get("alt") or element.text_content()).strip()
        if name:
            return name
    return ""


def _first_time(elements: list[lxml.html.HtmlElement]) -> datetime | None:
    """The first element whose text is a time (the meta line also holds the source and counts)."""
    for element in elements:
        if parsed := parse_datetime(_element_text(element)):
            return parsed
    return None


def _is_caption(line: str) -> bool:
    return len(line) <= _CAPTION_MAX and _CAPTION_RE.match(line) is not None


def _first(root: lxml.html.HtmlElement | None, selector: str) -> lxml.html.HtmlElement | None:
    if root is None:
        return None
    found = css(root, selector)
    return found[0] if found else None


def _element_text(element: lxml.html.HtmlElement | None) -> str:
    return " ".join(element.text_content().split()) if element is not None else ""
