"""Scrapy responses as the pure core reads them: a Document, a header."""

from __future__ import annotations

from scrapy.http import Response, TextResponse

from crawler.extract import declared_encoding, decode_body, repair_mislabelled
from crawler.model import Document


def read_document(response: Response) -> Document:
    """URL, decoded text and content type.

    A page that declares its encoding (BOM, HTTP header, <meta>) is decoded by that declaration
    in Scrapy and in decode_body alike, and Scrapy has decoded every HTML page already (its
    meta-refresh middleware reads the text): that text is reused, not decoded a second time.
    Without a declaration, decode_body's detection (UTF-8, else GB18030) decides.
    """
    content_type = content_type_of(response)
    body = response.body
    if isinstance(response, TextResponse) and declared_encoding(body, content_type):
        text = repair_mislabelled(response.text, body)
    else:
        text = decode_body(body, content_type)
    return Document(response.url, text, content_type)


def content_type_of(response: Response) -> str:
    return header(response, "Content-Type") or ""


def header(response: Response, name: str) -> str | None:
    """A response header as text (latin-1, as HTTP defines), None when absent or empty."""
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
