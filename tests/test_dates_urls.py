"""Printed times → UTC, and canonical article URLs."""

from __future__ import annotations

from datetime import date

import pytest

from crawler.dates import date_from_path, from_timestamp, parse_datetime, to_iso
from crawler.urls import URLError, canonicalize_url


@pytest.mark.parametrize(
    ("printed", "utc"),
    [
        ("2026-07-15 11:05:44  +0800", "2026-07-15T03:05:44Z"),  # 36kr: not RFC 822, two spaces
        ("2026-07-15 11:05:44 +0800", "2026-07-15T03:05:44Z"),
        ("Sat, 22 Aug 2026 09:15:00 GMT", "2026-08-22T09:15:00Z"),  # cnBeta feed
        ("Tue, 30 Nov 2021 23:23:00 +0800", "2021-11-30T15:23:00Z"),  # huxiu feed
        ("Sat, 22 Aug 2026 09:15:00 -0000", "2026-08-22T09:15:00Z"),
        ("2026年08月22日 09:15", "2026-08-22T01:15:00Z"),  # cnBeta page, Beijing time
        ("2026年8月2日", "2026-08-01T16:00:00Z"),
        ("2023-10-18 11:45", "2023-10-18T03:45:00Z"),
        ("2021-11-30 23:23:00", "2021-11-30T15:23:00Z"),  # naive: Beijing, not UTC
        ("2026-07-15T11:05:44+08:00", "2026-07-15T03:05:44Z"),
        ("2026-07-15T03:05:44Z", "2026-07-15T03:05:44Z"),
        ("2026/07/15 11:05", "2026-07-15T03:05:00Z"),
    ],
)
def test_parse_datetime(printed: str, utc: str) -> None:
    assert to_iso(parse_datetime(printed)) == utc


@pytest.mark.parametrize(
    "printed", ["", "   ", "3小时前", "昨天 10:00", "2026-02-30 10:00", "garbage"]
)
def test_unreadable_times_are_none(printed: str) -> None:
    assert parse_datetime(printed) is None


def test_timestamps_in_seconds_and_milliseconds() -> None:
    assert to_iso(from_timestamp(1763600000)) == "2025-11-20T00:53:20Z"
    assert to_iso(from_timestamp("1763600000000")) == "2025-11-20T00:53:20Z"
    assert from_timestamp("soon") is None and from_timestamp(0) is None


def test_date_from_path() -> None:
    assert date_from_path("https://tech.caijing.com.cn/20231018/4965423.shtml") == date(
        2023, 10, 18
    )
    assert date_from_path("https://x.example/2026/11/20/pay.html") == date(2026, 11, 20)
    assert date_from_path("https://x.example/p/3000000000001") is None


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://36kr.com/p/123?f=rss", "https://36kr.com/p/123"),
        (
            "https://www.huxiu.com/article/1.html?f=wangzhan#comments",
            "https://www.huxiu.com/article/1.html",
        ),
        ("https://a.example/x?utm_source=rss&utm_medium=feed&id=7", "https://a.example/x?id=7"),
        ("https://a.example/x?spm=a.b.c&ktm_source=feed", "https://a.example/x"),
        ("HTTP://A.Example:80/x?b=2&a=1", "http://a.example/x?a=1&b=2"),
        ("https://a.example:8443/x", "https://a.example:8443/x"),
        ("http://127.0.0.1:41234/p/1?f=rss", "http://127.0.0.1:41234/p/1"),
        ("https://a.example", "https://a.example/"),
    ],
)
def test_canonicalize_url(url: str, canonical: str) -> None:
    assert canonicalize_url(url) == canonical


@pytest.mark.parametrize("url", ["/p/1", "ftp://a.example/x", "mailto:a@b.c", "https://"])
def test_canonicalize_rejects_what_is_not_an_http_url(url: str) -> None:
    with pytest.raises(URLError, match="not an absolute http"):
        canonicalize_url(url)
