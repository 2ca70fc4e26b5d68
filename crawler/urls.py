"""Canonical article URLs: one article, one identity, whatever link it arrived by."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url as w3lib_canonicalize_url

# Query parameters that only say where a click came from (feeds append ?f=rss, ?ktm_source=feed).
TRACKING_PARAMETERS = frozenset(
    {"f", "ktm_source", "spm", "fbclid", "gclid", "igshid", "mc_cid", "mc_eid", "share_token"}
)
TRACKING_PREFIXES = ("utm_",)


class URLError(ValueError):
    """A string that is not an absolute http(s) URL."""


def is_tracking_parameter(name: str) -> bool:
    """True for a query parameter that identifies a campaign or feed, not content."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMETERS or lowered.startswith(TRACKING_PREFIXES)


def canonicalize_url(url: str) -> str:
    """Return the identity of an article URL: no fragment, no tracking parameters.

    Scheme and host are lower-cased, the default port dropped, the query sorted and
    percent-encoding normalised (w3lib), so equal pages compare equal as strings.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise URLError(f"not an absolute http(s) URL: {url!r}")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_parameter(k)
    ]
    netloc = parts.hostname.lower()
    if parts.port and parts.port != {"http": 80, "https": 443}[parts.scheme.lower()]:
        netloc = f"{netloc}:{parts.port}"
    rebuilt = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))
    return w3lib_canonicalize_url(rebuilt)


def is_http_url(value: str) -> bool:
    """True when value is an absolute http(s) URL."""
    try:
        canonicalize_url(value)
    except URLError:
        return False
    return True
