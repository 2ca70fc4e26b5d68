"""Redirects off a source's site are never followed into extraction: seen as `redirected`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from crawler.dates import utcnow
from crawler.demo import SITES_DIR
from crawler.mirror import Mirror, Page
from crawler.redirects import SiteScope, refused_redirect
from crawler.store import Store
from tests.sitecrawl import crawl

CNBETA = SiteScope.for_urls(
    ["https://www.cnbeta.com.tw/backend.php"], domains=("cnbeta.com.tw", "cnbeta.com")
)
FEED = "https://www.cnbeta.com.tw/backend.php"
TO_TOUTIAO = "https://www.cnbeta.com.tw/articles/tech/1591204.htm"
TO_FILE = "https://www.cnbeta.com.tw/articles/tech/1591377.htm"
MOVED = "https://www.cnbeta.com.tw/articles/science/1591290.htm"
MOVED_TO = "https://www.cnbeta.com.tw/articles/science/moved-1591290.htm"
TOUTIAO = "https://www.toutiao.com/article/7400000000000000001/"


# The scope, a pure function -------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://www.cnbeta.com.tw/articles/tech/1.htm",
        "http://cnbeta.com.tw/articles/tech/1.htm",
        "https://m.cnbeta.com.tw/view/1.htm",
        "https://www.cnbeta.com/articles/tech/1.htm",
    ],
)
def test_redirects_within_the_site_are_followed(target: str) -> None:
    assert refused_redirect(CNBETA, target) is None


@pytest.mark.parametrize(
    ("target", "detail"),
    [
        ("https://www.toutiao.com/a1/", "www.toutiao.com (off the site)"),
        ("https://www.msn.cn/zh-cn/channel/source/cnBeta.COM", "www.msn.cn (off the site)"),
        ("https://notcnbeta.com.tw/", "notcnbeta.com.tw (off the site)"),
        ("file:///etc/passwd", "file: (not an HTTP(S) address)"),
        ("data:text/html,<p>hi</p>", "data: (not an HTTP(S) address)"),
        ("ftp://www.cnbeta.com.tw/x", "ftp: (not an HTTP(S) address)"),
        (
            "http://127.0.0.1:8080/admin",
            "127.0.0.1 (a loopback or private address, from a public source)",
        ),
        ("http://10.1.2.3/", "10.1.2.3 (a loopback or private address, from a public source)"),
        ("http://[::1]/", "::1 (a loopback or private address, from a public source)"),
        ("http://localhost/", "localhost (a loopback or private address, from a public source)"),
    ],
)
def test_redirects_off_the_site_are_refused_naming_the_target(target: str, detail: str) -> None:
    assert refused_redirect(CNBETA, target) == detail


def test_a_generic_source_stays_on_the_hosts_of_its_urls() -> None:
    scope = SiteScope.for_urls(["https://www.example.com/feed.xml", "https://lists.example.org/"])
    assert scope.domains == ("example.com", "lists.example.org")
    assert refused_redirect(scope, "https://blog.example.com/1.html") is None
    assert refused_redirect(scope, "https://example.net/1.html") == "example.net (off the site)"


def test_a_local_source_may_redirect_locally_but_not_to_another_port() -> None:
    """The tests' own sources live on 127.0.0.1: loopback is their site, not an attack."""
    scope = SiteScope.for_urls(["http://127.0.0.1:8001/backend.php"], domains=("cnbeta.com.tw",))
    assert not scope.public
    assert refused_redirect(scope, "http://127.0.0.1:8001/articles/1.htm") is None
    assert refused_redirect(scope, "http://127.0.0.1:8002/a/") == "127.0.0.1 (off the site)"


# A crawl -------------------------------------------------------------------------------------


@pytest.fixture
def cnbeta() -> Iterator[Mirror]:
    """cnBeta's recorded copy, one page redirecting to toutiao (another host, another port),
    one to a file: URL, and one moved within the site."""
    mirror = Mirror.from_directory(SITES_DIR / "cnbeta")
    mirror.set_page(TOUTIAO, Page("<html><body><p>今日头条</p></body></html>".encode()))
    mirror.set_page(MOVED_TO, mirror.get_page(MOVED))
    with mirror:
        moved = {"status": 302, "body": b"", "conditional": False}
        mirror.update_page(TO_TOUTIAO, **moved, headers={"Location": mirror.url_for(TOUTIAO)})
        mirror.update_page(TO_FILE, **moved, headers={"Location": "file:///etc/passwd"})
        mirror.update_page(MOVED, **moved, headers={"Location": mirror.url_for(MOVED_TO)})
        yield mirror


def test_a_page_redirected_off_the_site_is_seen_as_redirected_never_stored(
    cnbeta: Mirror, tmp_path: Path
) -> None:
    sources = f'[[source]]\nid = "cnbeta"\nsite = "cnbeta"\nfeeds = ["{{{FEED}}}"]\n'
    figures = crawl(cnbeta, tmp_path, sources)["cnbeta"]

    assert figures["redirected"] == 2
    assert not [hit for hit in cnbeta.hits if hit.url.startswith("https://www.toutiao.com")]
    db = Database(tmp_path / "followup.db")
    seen = {cnbeta.real_url(row["url"]): row for row in db.query("SELECT * FROM seen")}
    assert seen[TO_TOUTIAO]["status"] == "redirected"
    assert seen[TO_TOUTIAO]["detail"] == "127.0.0.1 (off the site)"
    assert seen[TO_FILE]["status"] == "redirected"
    assert seen[TO_FILE]["detail"] == "file: (not an HTTP(S) address)"
    stored = {cnbeta.real_url(row["url"]) for row in db.query("SELECT url FROM articles")}
    assert TO_TOUTIAO not in stored and TO_FILE not in stored
    # A redirect within the site is followed: the moved page was read (and is unrelated).
    assert seen[MOVED]["status"] == "irrelevant"

    # Retried like a blocked page: asked again once its wait is over, not before.
    store = Store.open(tmp_path / "followup.db")
    try:
        local = cnbeta.url_for(TO_TOUTIAO)
        assert store.get_known([local]) == {local}
        assert store.get_known([local], now=utcnow() + timedelta(hours=2)) == set()
    finally:
        store.close()
