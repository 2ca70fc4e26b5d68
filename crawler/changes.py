"""Telling what changed: HTTP validators for conditional GET, content hashes for article edits."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from crawler.text import compact


@dataclass(frozen=True, slots=True)
class Validators:
    """How a server identified the version it sent: ETag, Last-Modified, and the content's hash.

    `content_hash` is set for re-checked article pages (the hash of the article they gave),
    never for feeds and lists.
    """

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None

    @property
    def conditional(self) -> bool:
        """True when the server gave something to send back in a conditional request."""
        return bool(self.etag or self.last_modified)

    def request_headers(self) -> dict[str, str]:
        """If-None-Match / If-Modified-Since for the next request of the same URL."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def parse_validators(
    header: Callable[[str], str | None], *, content_hash: str | None = None
) -> Validators:
    """The validators of a response, given a lookup of its headers by name."""
    return Validators(
        etag=_clean(header("ETag")),
        last_modified=_clean(header("Last-Modified")),
        content_hash=content_hash,
    )


def content_hash(title: str, text: str) -> str:
    """Identity of an article's words: the same hash means no edit worth a new version.

    Computed over the normalised word characters of title and text, so whitespace,
    punctuation width and line breaks (which differ between a feed and a page, or two
    renderings of one page) never count as an edit; a changed word or number does.
    """
    words = f"{compact(title)}\x00{compact(text)}".encode()
    return hashlib.sha1(words).hexdigest()[:16]


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None
