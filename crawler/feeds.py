"""RSS and Atom feeds, parsed by feedparser from the bytes the crawler fetched."""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass
from typing import Any

import feedparser

from crawler.text import strip_controls

logger = logging.getLogger(__name__)


REPLACEMENT_CHAR = "\ufffd"
_XML_DECLARATION_RE = re.compile(
    rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])([A-Za-z0-9._:-]+)\2""", re.IGNORECASE
)
_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
# A numeric character reference: feedparser raises on one naming a lone surrogate (&#xD800;),
# which would lose the whole feed for one title.
_CHAR_REF_RE = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
# Chinese sites label GBK pages GB2312; GB18030 decodes both and more.
_ENCODING_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030"}


class FeedError(ValueError):
    """A response that is not a feed at all (an HTML page, a WAF shell, garbage)."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One feed item with feedparser's untyped dictionary reduced to what the crawl uses."""

    link: str
    title: str = ""
    author: str = ""
    published: str = ""  # as printed: sites print times no standard parser reads
    html: str = ""  # content:encoded when present, else description
    kind: str = ""  # a non-standard <type> element (huxiu: article / video_article)

    @property
    def damaged(self) -> bool:
        """True when invalid bytes were replaced in its title or text: words may be lost."""
        return REPLACEMENT_CHAR in self.title or REPLACEMENT_CHAR in self.html


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """Items of a feed and, for a malformed ("bozo") feed, what was wrong with it."""

    items: list[FeedItem]
    problem: str | None = None


def parse_feed(body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
    """Parse feed bytes; a malformed feed keeps every item feedparser could still read.

    Raises FeedError when nothing in the response is a feed item.
    """
    # Bytes, never a str: feedparser fetches a string that looks like a URL by itself. Decoded
    # here and handed over as UTF-8: given bytes with a few invalid ones, feedparser re-reads
    # the whole feed in another encoding and garbles every Chinese character.
    body = clean_feed_text(decode_feed(body, content_type)).encode("utf-8")
    body = _XML_DECLARATION_RE.sub(rb"\1\2utf-8\2", body, count=1)
    headers = {"content-location": url, "content-type": _utf8_type(content_type)}
    # Feeds are read for text, never displayed: sanitising their HTML and resolving relative
    # links inside it cost more than the rest of the feed's parsing.
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    problem = _describe_problem(parsed) if parsed.get("bozo") else None
    items = [item for item in map(_item_from_entry, parsed.entries) if item is not None]
    if not items and (problem or not parsed.get("version")):
        raise FeedError(f"no feed items in {url}: {problem or 'not an RSS or Atom document'}")
    return ParsedFeed(items, problem)


def decode_feed(body: bytes, content_type: str = "") -> str:
    """Feed bytes as text: by BOM, XML declaration, HTTP charset, else UTF-8.

    Invalid bytes become U+FFFD in the declared encoding, unless another candidate decodes the
    whole body cleanly (a header that lies): one bad title never garbles the rest.
    """
    candidates = _declared_encodings(body, content_type)
    for encoding in candidates:
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    return body.decode(candidates[0], errors="replace")


def _declared_encodings(body: bytes, content_type: str) -> list[str]:
    found = []
    if body.startswith(codecs.BOM_UTF8):
        found.append("utf-8-sig")
    elif body[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        found.append("utf-16")
    declaration = _XML_DECLARATION_RE.match(body[:200])
    if declaration:
        found.append(declaration[3].decode("ascii"))
    header = _CHARSET_RE.search(content_type)
    if header:
        found.append(header[1])
    found.append("utf-8")
    names = []
    for name in found:
        try:
            codec = codecs.lookup(_ENCODING_ALIASES.get(name.lower(), name)).name
        except LookupError:
            continue  # an encoding nobody knows: the next candidate
        if codec not in names:
            names.append(codec)
    return names


def clean_feed_text(text: str) -> str:
    """Feed text without what XML forbids: control characters, and character references to
    them or to lone surrogates (removed, as the characters themselves would be)."""
    return _CHAR_REF_RE.sub(_keep_allowed_reference, strip_controls(text))


def _keep_allowed_reference(match: re.Match[str]) -> str:
    code = int(match[1], 16) if match[1] else int(match[2])
    if code > 0x10FFFF or not strip_controls(chr(code)):
        return ""
    return match[0]


def _utf8_type(content_type: str) -> str:
    media_type = content_type.split(";")[0].strip() or "application/xml"
    return f"{media_type}; charset=utf-8"


def _describe_problem(parsed: Any) -> str:
    exception = parsed.get("bozo_exception")
    return f"{type(exception).__name__}: {exception}" if exception else "malformed feed"


def _item_from_entry(entry: Any) -> FeedItem | None:
    link = entry.get("link") or ""
    if not link:
        return None
    content = entry.get("content") or []
    html = content[0].get("value", "") if content else entry.get("summary", "")
    return FeedItem(
        link=link,
        title=entry.get("title", ""),
        author=entry.get("author", ""),
        published=entry.get("published") or entry.get("updated") or "",
        html=html or "",
        kind=entry.get("type", "") if isinstance(entry.get("type"), str) else "",
    )
