"""Per-site extraction, fundus style: each registered site's recorded pages in, expected JSON out.

A site's recorded copy and its expected output live in one folder, crawler/demo/sites/<site id>/
(mirror.toml, the pages, expected.json; `followup demo` serves the same copies). After a deliberate change, rewrite
the expected file with `python -m tests.test_sites <site id>` and review the diff by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from crawler.dates import to_iso
from crawler.extract import Blocked, decode_body, extract_article
from crawler.feeds import parse_feed
from crawler.mirror import Mirror
from crawler.model import Document
from crawler.sites import SITES, get_site

DEMO = Path(__file__).parents[1] / "crawler" / "demo" / "sites"
EXPECTED = DEMO  # expected.json sits beside the recorded pages it describes
SITE_IDS = sorted(s for s in SITES if s != "generic")  # generic: tests/web and test_crawl
KINDS = ("feeds", "lists", "pages")


def load_expected(site_id: str) -> dict[str, dict[str, Any]]:
    return json.loads((EXPECTED / site_id / "expected.json").read_text(encoding="utf-8"))


def actual_output(site_id: str, kind: str, url: str, mirror: Mirror) -> Any:
    """What the site module makes of one recorded feed, list or page, as JSON-able data."""
    site, page = get_site(site_id), mirror.get_page(url)
    if kind == "feeds":
        feed = parse_feed(page.body, url=url, content_type=page.content_type)
        entries = [site.parse_feed_item(item) for item in feed.items]
        return [
            {**_entry(e), "text": a.text if (a := site.feed_article(e)) else None} for e in entries
        ]
    document = Document(url, decode_body(page.body, page.content_type), page.content_type)
    if kind == "lists":
        return [_entry(e) for e in site.parse_list(document)]
    result = extract_article(site, document)
    if isinstance(result, Blocked):
        return {"blocked": True}
    return {
        "title": result.title,
        "author": result.author,
        "published_at": to_iso(result.published),
        "text": result.text,
    }


def _entry(entry: Any) -> dict[str, Any]:
    return {
        "url": entry.url,
        "title": entry.title,
        "author": entry.author,
        "published_at": to_iso(entry.published),
    }


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for site_id in SITE_IDS:
        path = EXPECTED / site_id / "expected.json"
        if path.exists():
            expected = load_expected(site_id)
            cases += [(site_id, kind, url) for kind in KINDS for url in expected.get(kind, {})]
    return cases


@pytest.fixture(scope="module")
def recorded() -> Mirror:
    return Mirror.from_directory(DEMO)


@pytest.mark.parametrize("site_id", SITE_IDS)
def test_every_registered_site_has_fixtures(site_id: str) -> None:
    assert (DEMO / site_id / "mirror.toml").exists(), f"{site_id}: no recorded copy in {DEMO}"
    path = EXPECTED / site_id / "expected.json"
    assert path.exists(), f"{site_id}: no expected output at {path}"
    expected = load_expected(site_id)
    assert expected.get("feeds") or expected.get("lists"), f"{site_id}: no feed or list case"
    pages = expected.get("pages", {})
    assert any("text" in p for p in pages.values()), f"{site_id}: no article page case"


@pytest.mark.parametrize(("site_id", "kind", "url"), _cases())
def test_site_output_matches_expected(site_id: str, kind: str, url: str, recorded: Mirror) -> None:
    assert actual_output(site_id, kind, url, recorded) == load_expected(site_id)[kind][url]


def write_expected(site_id: str) -> None:
    """Regenerate a site's expected.json from its current output (review the diff!)."""
    path = EXPECTED / site_id / "expected.json"
    expected = load_expected(site_id)
    mirror = Mirror.from_directory(DEMO)
    for kind in KINDS:
        for url in expected.get(kind, {}):
            expected[kind][url] = actual_output(site_id, kind, url, mirror)
    path.write_text(json.dumps(expected, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    for name in sys.argv[1:]:
        write_expected(name)
