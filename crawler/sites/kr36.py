"""36氪 (36kr): a full-text feed; article pages carry their data in window.initialState.

The page state is plain JSON or, since 2022, {"state": "<base64>", "isEncrypt": true}: AES-128
in ECB mode with PKCS7 padding under a fixed key that 36kr's own page script holds. Without a
usable state the rendered DOM is read, and pages from before 2019 keep their data in
`var props={"detailArticle|post": …}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import lxml.html
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from parsel import Selector, SelectorList

from crawler.dates import from_timestamp, parse_datetime
from crawler.feeds import FeedItem
from crawler.model import Article, Document, Entry
from crawler.nfkc import nfkc
from crawler.sites.base import Site, opening_tag, parse_region, register
from crawler.sites.parsing import has_class, joined_text, stripped
from crawler.text import BOILERPLATE_MAX_LINE, html_lines, is_boilerplate
from crawler.urls import canonicalize_url

logger = logging.getLogger(__name__)

# The key in 36kr's page script (AES-128: its 16 UTF-8 bytes, not a passphrase).
STATE_KEY = b"efabccee-b754-4c"
# Hosts of one and the same article; anything else (a local mirror, eu.36kr.com) is left alone.
HOSTS = frozenset({"36kr.com", "www.36kr.com", "m.36kr.com"})
CANONICAL_ORIGIN = "https://www.36kr.com"
# /p/3912047785610501, and the /p/5055230.html of the 2016 feed.
ARTICLE_PATH_RE = re.compile(r"^/p/(\d+)(?:\.html)?/?$")
STATE_RE = re.compile(r"window\.initialState\s*=\s*")
PROPS_RE = re.compile(r"\bvar\s+props\s*=\s*")
TITLE_SUFFIX_RE = re.compile(r"\s*[-_|｜]\s*36氪\s*$")
# Image captions (<p class="img-desc">) are not article text.
# The article's title, byline and body, found in the raw page without parsing it.
ARTICLE_TAG = opening_tag("div", css_class="article-wrapper")
CAPTION_XPATH = f".//p[{has_class('img-desc')}]"
# 36kr's own credit lines that the shared boilerplate patterns do not know.
CREDIT_RE = re.compile(
    r"36\s*氪经授权|授权\s*36\s*(?:氪|kr)|"
    r"^神译局是36氪旗下|^编者按[:：]\s*本文(?:来自|来源于)|"
    r"^本文作者.{0,40}(?:首发|授权)|"
    r"^(?:注[:：])?我是\s*36\s*氪.{0,60}(?:微信|联系|交流)",
    re.IGNORECASE,
)
# "…，作者：林一舟，36氪经授权发布。" in a syndication credit; "文｜韩知远" atop 36kr's own pieces.
CREDITED_AUTHOR_RE = re.compile(r"作者[:：]\s*(?P<name>[^，,。；;（(\s][^，,。；;（(]*)")
BYLINE_RE = re.compile(r"^(?:文|作者)\s*[|｜]\s*(?P<name>[^，,。；;（(]+)$")
MAX_NAME_CHARS = 20
DOM_TIME_PREFIX = "·・• \u00a0"


class StateError(ValueError):
    """A window.initialState that is there but cannot be read (broken JSON, a changed key)."""


@register
class Kr36Site(Site):
    """36氪: feed descriptions are the full article; pages are read from their state."""

    id = "36kr"
    name = "36氪"
    domains: ClassVar[tuple[str, ...]] = ("36kr.com",)
    url_patterns = (r"^https?://(?:www\.|m\.)?36kr\.com/(?:p|newsflashes)/\d+",)

    def canonical_url(self, url: str) -> str:
        """https://www.36kr.com/p/N for every host, query and fragment an article arrives by."""
        canonical = canonicalize_url(url)
        parts = urlsplit(canonical)
        if parts.hostname not in HOSTS:
            return canonical
        match = ARTICLE_PATH_RE.match(parts.path)
        if match:
            return f"{CANONICAL_ORIGIN}/p/{match[1]}"
        query = f"?{parts.query}" if parts.query else ""
        return f"{CANONICAL_ORIGIN}{parts.path}{query}"

    def parse_feed_item(self, item: FeedItem) -> Entry:
        """The generic entry; the current feed names no author, so take the body's credit line."""
        entry = super().parse_feed_item(item)
        if entry.author or not entry.html:
            return entry
        return replace(entry, author=credited_author(entry.html))

    def feed_article(self, entry: Entry) -> Article | None:
        """The feed's full text without captions and credits; None for a short description."""
        text = body_text(entry.html) if entry.html else ""
        if len(text) < self.min_feed_chars:
            return None
        return Article(entry.url, entry.title, text, entry.author, entry.published)

    def extract(self, document: Document) -> Article | None:
        """The page's state, else its DOM, else the pre-2019 props; None for anything else."""
        # The state is read from the raw page: the DOM is parsed only when it is needed, and
        # then only <head> and div.article-wrapper unless the page lacks them.
        if article := _state_article(document):
            return article
        region = parse_region(document.text, ARTICLE_TAG)
        if region is not None and (article := _dom_article(document.url, Selector(root=region))):
            return article
        return _dom_article(document.url, Selector(text=document.text)) or _props_article(document)


# Page state --------------------------------------------------------------------------------


def read_initial_state(html: str) -> dict[str, Any] | None:
    """The page's window.initialState, decrypted when it is encrypted; None when absent.

    Raises StateError when the state is there but is not JSON or does not decrypt.
    """
    try:
        state = _json_after(html, STATE_RE)
    except ValueError as exc:
        raise StateError(f"window.initialState is not JSON: {exc}") from None
    if isinstance(state, dict) and state.get("isEncrypt") and isinstance(state.get("state"), str):
        try:
            state = json.loads(decrypt_state(state["state"]))
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise StateError(f"decrypted state is not JSON: {exc}") from None
    return state if isinstance(state, dict) else None


def decrypt_state(ciphertext: str) -> str:
    """Decrypt the base64 `state` of an encrypted initialState (AES-128-ECB, PKCS7)."""
    try:
        raw = base64.b64decode(ciphertext, validate=True)
        decryptor = Cipher(algorithms.AES(STATE_KEY), modes.ECB()).decryptor()
        padded = decryptor.update(raw) + decryptor.finalize()
        unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
        return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise StateError(
            f"encrypted initialState does not decrypt ({exc}); has 36kr changed its key?"
        ) from None


def article_data(state: dict[str, Any]) -> dict[str, Any] | None:
    """state.articleDetail.articleDetailData.data, when it holds an article body."""
    data: Any = state
    for key in ("articleDetail", "articleDetailData", "data"):
        data = data.get(key) if isinstance(data, dict) else None
    if isinstance(data, dict) and stripped(data.get("widgetContent")):
        return data
    return None


def _json_after(html: str, prefix: re.Pattern[str]) -> Any:
    """The JSON value that follows prefix in html (None when prefix is absent)."""
    match = prefix.search(html)
    if match is None:
        return None
    value, _ = json.JSONDecoder().raw_decode(html, match.end())
    return value


def _state_article(document: Document) -> Article | None:
    try:
        state = read_initial_state(document.text)
    except StateError as exc:
        logger.warning("36kr page %s: %s; reading the DOM instead", document.url, exc)
        return None
    data = article_data(state) if state else None
    if data is None:
        return None
    return Article(
        url=document.url,
        title=stripped(data.get("widgetTitle")) or _dom_title(_title_part(document)),
        text=body_text(data["widgetContent"]),
        author=stripped(data.get("author")),
        published=from_timestamp(data["publishTime"]) if data.get("publishTime") else None,
    )


# DOM and the pre-2019 layout ---------------------------------------------------------------


def _dom_article(url: str, page: Selector) -> Article | None:
    body = page.css("div.articleDetailContent")
    if not body:
        return None
    return Article(
        url=url,
        title=_dom_title(page),
        text=body_text(body[0].root),
        author=_text_of(page.css("a.title-icon-item.item-a")),
        published=parse_dom_time(_text_of(page.css("span.title-icon-item.item-time"))),
    )


def _props_article(document: Document) -> Article | None:
    try:
        props = _json_after(document.text, PROPS_RE)
    except ValueError:
        return None
    post = props.get("detailArticle|post") if isinstance(props, dict) else None
    if not isinstance(post, dict) or not stripped(post.get("content")):
        return None
    user = post.get("user")
    return Article(
        url=document.url,
        title=stripped(post.get("title")),
        text=body_text(post["content"]),
        author=stripped(user.get("name")) if isinstance(user, dict) else "",
        published=parse_datetime(stripped(post.get("published_at"))),
    )


def parse_dom_time(value: str) -> datetime | None:
    """The page's '·2026年11月13日 09:12'; None for relative times ('3小时前', '昨天')."""
    return parse_datetime(value.lstrip(DOM_TIME_PREFIX))


def _title_part(document: Document) -> Selector:
    """<head> and div.article-wrapper when the page has them, else the whole page."""
    region = parse_region(document.text, ARTICLE_TAG)
    return Selector(root=region) if region is not None else Selector(text=document.text)


def _dom_title(page: Selector) -> str:
    """The h1, else the <title> without its '-36氪' / '_36氪'."""
    return _text_of(page.css("h1.article-title")) or TITLE_SUFFIX_RE.sub(
        "", _text_of(page.css("title"))
    )


def _text_of(selection: SelectorList[Selector]) -> str:
    return joined_text(selection[0].css("::text").getall()) if selection else ""


# Body text ---------------------------------------------------------------------------------


def body_text(body: str | lxml.html.HtmlElement) -> str:
    """Article text of a 36kr body, one paragraph a line, without captions and credit lines."""
    if isinstance(body, str):
        if not body.strip():
            return ""
        body = lxml.html.fragment_fromstring(body, create_parent="div")
    for caption in body.xpath(CAPTION_XPATH):
        caption.drop_tree()
    return "\n".join(line for line in html_lines(body) if not is_credit_line(line))


def is_credit_line(line: str) -> bool:
    """A syndication, translator or editor credit (本文来自…36氪经授权发布, 责编：…)."""
    if is_boilerplate(line):
        return True
    if len(line) > BOILERPLATE_MAX_LINE:
        return False
    return CREDIT_RE.search(nfkc(line).strip()) is not None


def credited_author(html: str) -> str:
    """The author a credit line names: a syndication credit or a byline ('文｜韩知远')."""
    for line in html_lines(html):
        if not is_credit_line(line):
            continue
        match = BYLINE_RE.match(line) or CREDITED_AUTHOR_RE.search(line)
        name = match["name"].strip() if match else ""
        if 0 < len(name) <= MAX_NAME_CHARS:
            return name
    return ""
