"""Where a source's requests may be redirected to: its own site, never somewhere else.

cnBeta sends mainland visitors to msn.cn or toutiao.com; following such a redirect would store
another site's page as a cnBeta article. The scope is the site module's domains (subdomains
included) plus the exact hosts (with port) of the source's configured URLs; for the generic
module, whose domains are unknown, the hostnames of those URLs stand in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

WWW = "www."


@dataclass(frozen=True, slots=True)
class SiteScope:
    """The hosts a source's pages, feeds and lists may redirect to."""

    domains: tuple[str, ...] = ()  # hostnames; their subdomains belong too
    netlocs: frozenset[str] = frozenset()  # exact host[:port] of the configured URLs
    public: bool = True  # every configured URL is on a public host (not loopback/private)

    @classmethod
    def for_urls(cls, urls: Iterable[str], *, domains: Iterable[str] = ()) -> SiteScope:
        """The scope of a source: its site module's domains, else its URLs' hostnames."""
        parts = [urlsplit(url) for url in urls]
        netlocs = frozenset(p.netloc.lower() for p in parts if p.netloc)
        own = tuple(d.lower() for d in domains) or tuple(
            sorted({_without_www(p.hostname) for p in parts if p.hostname})
        )
        public = not any(_is_private(p.hostname or "") for p in parts)
        return cls(domains=own, netlocs=netlocs, public=public)


def refused_redirect(scope: SiteScope, target: str) -> str | None:
    """Why a redirect to `target` must not be followed ('host (reason)'), or None when it may."""
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https"):
        return f"{parts.scheme or target[:20]}: (not an HTTP(S) address)"
    host = (parts.hostname or "").lower()
    if scope.public and _is_private(host):
        return f"{host} (a loopback or private address, from a public source)"
    if parts.netloc.lower() in scope.netlocs or _within(host, scope.domains):
        return None
    return f"{host} (off the site)"


def _within(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _without_www(host: str) -> str:
    return host[len(WWW) :] if host.startswith(WWW) else host


def _is_private(host: str) -> bool:
    """True for localhost and loopback, private, link-local or reserved IP literals.

    Names are not resolved: a public name pointing at a private address is not caught here.
    """
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
