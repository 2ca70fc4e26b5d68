"""From a fetched page to an article: decoding, the site module, generic extraction, WAF shells."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
)

from crawler.dates import parse_datetime
from crawler.model import Article, Document, Entry
from crawler.sites import Site
from crawler.text import clean_lines, content_lines, has_words, word_count

logger = logging.getLogger(__name__)

# Fewer word characters than this after extraction: an empty page or a verification shell.
MIN_ARTICLE_CHARS = 60
# A page naming a challenge is a shell unless it carries a real article's worth of text.
WAF_MAX_CHARS = 400
WAF_MARKERS_RE = re.compile(
    r"访问验证|安全验证|滑动验证|人机验证|验证码|请完成验证|访问过于频繁|请开启\s*JavaScript|"
    r"captcha|acw_sc__v2|_waf_|_wafchallengeid|_waftokenid|aliyun_waf|cf-chl|Just a moment\.\.\.|Access Denied|"
    r"enable JavaScript and cookies",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Blocked:
    """A page that gave no article: a WAF or verification shell, or an empty extraction."""

    url: str
    reason: str


def decode_body(body: bytes, content_type: str = "") -> str:
    """Decode by BOM, HTTP header, <meta charset>, then detection: UTF-8, else GB18030."""
    _, text = html_to_unicode(content_type or None, body, auto_detect_fun=_detect_encoding)
    return repair_mislabelled(text, body)


def declared_encoding(body: bytes, content_type: str = "") -> str | None:
    """The encoding a page declares, in html_to_unicode's order (BOM, HTTP header, <meta>);
    None when it declares none and detection decides."""
    return (
        read_bom(body)[0]
        or http_content_type_encoding(content_type or None)
        or html_body_declared_encoding(body)
    )


def repair_mislabelled(text: str, body: bytes) -> str:
    """text, or the body as GB18030 when text is full of U+FFFD and that decodes it cleanly:
    a declared charset that lies (old Chinese sites label GBK pages UTF-8)."""
    if "\ufffd" in text and text.count("\ufffd") > 8:
        try:
            return body.decode("gb18030")
        except UnicodeDecodeError:
            pass
    return text


def _detect_encoding(body: bytes) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


@dataclass(frozen=True, slots=True)
class Extraction:
    """What a page gave, and whether the site module read it (False: generic fallback or nothing)."""

    result: Article | Blocked
    by_site: bool


def extract_article(
    site: Site, document: Document, entry: Entry | None = None
) -> Article | Blocked:
    """The page's article by the site module, else by generic extraction, else Blocked."""
    return extract_page(site, document, entry).result


def extract_page(site: Site, document: Document, entry: Entry | None = None) -> Extraction:
    """extract_article, telling whether the site module or the generic fallback read the page."""
    by_site = _site_article(site, document)
    article = by_site or extract_generic(document)
    # For a `generic` source the generic extractor is its site module, never a fallback.
    read_by_site = by_site is not None or site.id == Site.id
    if article is None:
        return Extraction(Blocked(document.url, blocked_reason(document.text, "")), False)
    article = article.completed_from(entry)
    reason = blocked_reason(document.text, article.text)
    if reason:
        return Extraction(Blocked(document.url, reason), read_by_site)
    return Extraction(article, read_by_site)


def _site_article(site: Site, document: Document) -> Article | None:
    article = site.extract(document)
    if article is None or not has_words(article.text, MIN_ARTICLE_CHARS):
        return None
    return article


def blocked_reason(html: str, text: str) -> str:
    """Why a page counts as blocked ('' when it does not)."""
    if has_words(text, WAF_MAX_CHARS):
        return ""
    size = word_count(text)
    marker = WAF_MARKERS_RE.search(html)
    if marker:
        return f"verification page ({marker.group(0)!r}, {size} characters of text)"
    if size < MIN_ARTICLE_CHARS:
        return f"empty extraction ({size} characters of text)"
    return ""


def extract_generic(document: Document) -> Article | None:
    """Generic article extraction (trafilatura) for any page."""
    # Imported here: the fallback is rarely needed and its import costs ~80 ms of every crawl.
    import trafilatura
    from trafilatura.settings import Document as TrafilaturaDocument

    result = trafilatura.bare_extraction(
        document.text,
        url=document.url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        # %z keeps a page's explicit offset (empty for a naive time, then read as Beijing).
        date_extraction_params={"original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"},
    )
    if not isinstance(result, TrafilaturaDocument) or not result.text:
        return None
    title = (result.title or "").strip()
    lines = clean_lines(result.text)
    if lines and lines[0] == title:  # trafilatura keeps the <h1> as the first line
        lines = lines[1:]
    text = "\n".join(content_lines(lines))
    return Article(
        url=document.url,
        title=title,
        text=text,
        author=(result.author or "").strip(),
        published=parse_datetime(result.date) if result.date else None,
    )
