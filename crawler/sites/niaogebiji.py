"""鸟哥笔记 (niaogebiji.com): no feed; the article-list JSON or category pages, then each page."""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import lxml.html
from parsel import Selector

from crawler.dates import from_timestamp, parse_datetime
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
from crawler.sites.parsing import has_class, joined_text, stripped
from crawler.text import content_lines, html_lines
from crawler.urls import canonicalize_url

logger = logging.getLogger(__name__)

HOSTS = frozenset({"niaogebiji.com", "www.niaogebiji.com", "m.niaogebiji.com"})
# article-{id}-{page}.html; every page variant and the mobile host name one article.
ARTICLE_PATH_RE = re.compile(r"^/article-(?P<id>\d+)(?:-\d+)?\.html$")
ARTICLE_URL = "https://www.niaogebiji.com/article-{id}-1.html"
LIST_OK = "200"
# Time elements, current layout first; .writeTime is the older header an old public scraper read.
TIME_SELECTORS = (".writeTime3", ".writeTime")
PRINTED_TIME_RE = re.compile(
    r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}(?:\s*日)?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?"
)
TITLE_SUFFIX_RE = re.compile(r"\s*[-_|｜]\s*鸟哥笔记\s*$")
AUTHOR_PREFIX_RE = re.compile(r"^(?:作者|文)\s*[:：/|｜]\s*")


# The article header's author, not a 相关推荐 card's nor one quoted in the body.
AUTHOR_XPATH = (
    f"//*[{has_class('author')}]"
    f"[not(ancestor::*[{has_class('articleBox')}])][not(ancestor::*[{has_class('pc_content')}])]"
)
TITLE_XPATH = f"//h1[not(ancestor::*[{has_class('pc_content')}])]"
BODY_XPATH = f"//*[{has_class('pc_content')}]"
# The editor's caption style (图片描述): captions, image credits and the -END- marker.
CAPTION_XPATH = ".//*[@label='图片描述']"
# The article's own header (h1, author, time) and body, found in the raw page without parsing it.
HEADER_TAG = opening_tag("div", css_class="articleHeader")
BODY_TAG = opening_tag(css_class="pc_content")


class ArticleListError(ValueError):
    """A getMoreArticle response that is not a list of articles (the API's error form)."""


@register
class NiaogebijiSite(Site):
    """鸟哥笔记: list JSON `pc/index/getMoreArticle` or `/cat/{id}` pages; body in `.pc_content`."""

    id = "niaogebiji"
    name = "鸟哥笔记"
    domains: ClassVar[tuple[str, ...]] = ("niaogebiji.com",)
    url_patterns = (r"^https?://(?:www\.|m\.)?niaogebiji\.com/article-\d+",)

    def canonical_url(self, url: str) -> str:
        """One identity per article: page variants, the mobile host and query strings fold."""
        parts = urlsplit(url.strip())
        match = ARTICLE_PATH_RE.match(parts.path)
        if match and (parts.hostname or "").lower() in HOSTS:
            return ARTICLE_URL.format(id=match["id"])
        return canonicalize_url(url)

    def parse_list(self, document: Document) -> list[Entry]:
        """Entries of the getMoreArticle JSON, or of a category page's `div.articleBox` cards.

        An error answer from the API gives no entries (the spider then reports the source) and
        a warning naming its return_code and message.
        """
        text = document.text.lstrip("\ufeff \t\r\n")
        if not text.startswith(("{", "[")):
            return dedupe_entries(self._card_entries(document))
        try:
            records = parse_article_list(text, url=document.url)
        except ArticleListError as exc:
            logger.warning("%s", exc)
            return []
        return dedupe_entries(self._record_entries(records, document.url))

    def _record_entries(self, records: list[dict[str, Any]], base_url: str) -> Iterator[Entry]:
        for record in records:
            url = resolve_link(base_url, stripped(record.get("link")), self.canonical_url)
            if url is None:
                logger.warning("%s: skipping %r: no usable link", base_url, record.get("title"))
                continue
            yield Entry(
                url=url,
                title=stripped(record.get("title")),
                author=stripped(record.get("author")),
                published=parse_unix_time(record.get("published_at")),
            )

    def _card_entries(self, document: Document) -> Iterator[Entry]:
        cards = Selector(text=document.text).css("div.articleBox")
        if not cards:
            logger.warning(
                "%s: no div.articleBox cards; has the category page changed?", document.url
            )
        for card in cards:
            url = resolve_link(
                document.url, card.css("a[href]::attr(href)").get(""), self.canonical_url
            )
            if url is None:
                continue
            title = joined_text(card.css(".articleTitle ::text").getall())
            yield Entry(
                url=url,
                title=title or card.css("a[title]::attr(title)").get("").strip(),
                author=_author_text(card.css(".author")),
                published=_card_time(card),
            )

    def extract(self, document: Document) -> Article | None:
        """Title `h1`, body `.pc_content`, author `.author`, time `.writeTime3` (may be missing).

        Only the article header and body are parsed; a page without that header is read whole.
        """
        if not document.text.strip():
            return None
        return _container_article(document) or _page_article(document)


def _container_article(document: Document) -> Article | None:
    """The article from `.articleHeader` and `.pc_content` alone, each parsed by itself."""
    header = parse_fragment(outer_html(document.text, HEADER_TAG))
    body = parse_fragment(outer_html(document.text, BODY_TAG))
    if header is None or body is None:
        return None
    title = _header_title(header)
    if not title:
        head = parse_head(document.text)
        title = _page_title(Selector(root=head)) if head is not None else ""
    return Article(
        url=document.url,
        title=title,
        text=parse_body_text(Selector(root=body)),
        author=_author_text(Selector(root=header).css(".author")),
        published=_page_time(Selector(root=header)),
    )


def _page_article(document: Document) -> Article | None:
    """The article read from the whole page (older layouts without `.articleHeader`)."""
    page = Selector(text=document.text)
    body = page.xpath(BODY_XPATH)
    if not body:
        return None  # not this site's article layout: generic extraction takes over
    return Article(
        url=document.url,
        title=_page_title(page),
        text=parse_body_text(body[0]),
        author=_page_author(page),
        # Missing on some pages: extract_article then keeps the list's published_at.
        published=_page_time(page),
    )


def parse_article_list(text: str, *, url: str) -> list[dict[str, Any]]:
    """The records of a getMoreArticle answer; raises ArticleListError for its error form."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ArticleListError(f"{url}: the article list is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArticleListError(
            f"{url}: expected a JSON object with return_code, got {type(data).__name__}"
        )
    code = str(data.get("return_code", "")).strip()
    if code != LIST_OK:
        message = stripped(data.get("return_msg")) or "no return_msg"
        raise ArticleListError(f"{url}: the article list answered return_code {code!r}: {message}")
    records = data.get("return_data")
    if not isinstance(records, list):
        raise ArticleListError(f"{url}: return_data is not a list of articles")
    return [record for record in records if isinstance(record, dict)]


def parse_unix_time(value: Any) -> datetime | None:
    """published_at as the API gives it: unix seconds, as a number or a string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return from_timestamp(value)
    if isinstance(value, str) and value.strip().isdigit():
        return from_timestamp(value.strip())
    if isinstance(value, str):
        return parse_datetime(value)
    return None


def parse_printed_time(text: str) -> datetime | None:
    """The first full date (and time) in a header's text, as Beijing time."""
    match = PRINTED_TIME_RE.search(text)
    return parse_datetime(match.group(0)) if match else None


def parse_body_text(body: Selector) -> str:
    """Clean text of `.pc_content`: one line per paragraph or heading, no captions or credits."""
    root = copy.deepcopy(body.root)  # the page's own tree stays as parsed
    for caption in root.xpath(CAPTION_XPATH):
        caption.drop_tree()
    return "\n".join(content_lines(html_lines(root)))


def _header_title(header: lxml.html.HtmlElement) -> str:
    for heading in header.iter("h1"):
        if title := joined_text(heading.itertext()):
            return title
    return ""


def _page_title(page: Selector) -> str:
    for heading in page.xpath(TITLE_XPATH):
        if title := joined_text(heading.xpath(".//text()").getall()):
            return title
    title = page.css('meta[property="og:title"]::attr(content)').get("").strip()
    if not title:
        title = TITLE_SUFFIX_RE.sub("", joined_text(page.css("title::text").getall()))
    return title


def _page_author(page: Selector) -> str:
    return _author_text(page.xpath(AUTHOR_XPATH))


def _author_text(nodes: Iterable[Selector]) -> str:
    """The first non-empty author name among nodes, without a 作者： label."""
    for node in nodes:
        if author := AUTHOR_PREFIX_RE.sub("", joined_text(node.xpath(".//text()").getall())):
            return author
    return ""


def _page_time(page: Selector) -> datetime | None:
    for selector in TIME_SELECTORS:
        for node in page.css(selector):
            if published := parse_printed_time(joined_text(node.xpath(".//text()").getall())):
                return published
    return None


def _card_time(card: Selector) -> datetime | None:
    """A card's data-timepoint (unix seconds: the key the site pages its lists by)."""
    stamp = card.xpath("descendant-or-self::*[@data-timepoint][1]/@data-timepoint").get()
    return parse_unix_time(stamp) if stamp else None
