"""`followup check-sites`: each site module alone against its site's pages, live (here: local)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.checks import (
    PageCheck,
    SourceCheck,
    check_page,
    checks_json,
    format_checks,
    newest_entries,
)
from crawler.demo import SITES_DIR
from crawler.extract import decode_body
from crawler.mirror import Mirror, Page
from crawler.model import Document, Entry
from crawler.sites import SITES, get_site
from tests.helpers import run_followup
from tests.inprocess import check_sites_in_process
from tests.sitecrawl import readme_example, real_urls, relayout_cnbeta
from tests.test_five_sites import SITE_IDS, local_seeds
from tests.test_sites import load_expected

RELAYOUT = (
    "https://www.cnbeta.com.tw/articles/tech/1591204.htm",
    "https://www.cnbeta.com.tw/articles/tech/1591377.htm",
    "https://www.cnbeta.com.tw/articles/tech/1591455.htm",
    "https://www.cnbeta.com.tw/articles/science/1591290.htm",
)
FAST_SETTINGS = {"AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0"}
FAST = [arg for name, value in FAST_SETTINGS.items() for arg in ("-s", f"{name}={value}")]


def recorded(mirror: Mirror, url: str) -> Document:
    page = mirror.get_page(url)
    return Document(url, decode_body(page.body, page.content_type), page.content_type)


@pytest.fixture(scope="module")
def copies() -> Mirror:
    return Mirror.from_directory(SITES_DIR)  # read, not served


@pytest.mark.parametrize("site_id", sorted(set(SITES) - {"generic"}))
def test_every_site_module_reads_its_recorded_pages_alone(site_id: str, copies: Mirror) -> None:
    site = get_site(site_id)
    pages = {u: p for u, p in load_expected(site_id).get("pages", {}).items() if "text" in p}
    assert pages, f"{site_id}: no recorded article page to check"
    for url, expected in pages.items():
        check = check_page(site, recorded(copies, url))
        assert check.read, (url, check)
        assert (check.date, check.author) == (
            expected["published_at"] is not None,
            bool(expected["author"]),
        )


def test_a_changed_layout_reads_nothing_and_the_module_is_broken(copies: Mirror) -> None:
    site, url = get_site("cnbeta"), RELAYOUT[1]
    page = copies.get_page(url)
    changed = Document(url, relayout_cnbeta(page.body).decode("utf-8"))
    check = check_page(site, changed)
    assert check == PageCheck(url)  # nothing came out: no title, no text, no date, no author
    assert SourceCheck("cnbeta", "cnbeta", pages=[check]).verdict == "broken"


def test_verdicts() -> None:
    good = PageCheck("u1", title=True, text_chars=500)
    shell = PageCheck("u2", blocked="verification page ('验证码', 3 characters of text)")
    gone = PageCheck("u3", error="HTTP 404")
    assert SourceCheck("s", "m", pages=[shell, good]).verdict == "ok"
    assert SourceCheck("s", "m", pages=[shell, PageCheck("u4", title=True)]).verdict == "broken"
    assert SourceCheck("s", "m", pages=[shell, gone]).verdict == "blocked"
    assert SourceCheck("s", "m", pages=[gone]).verdict == "unreadable"
    assert SourceCheck("s", "m").verdict == "unreadable"


def test_the_newest_entries_are_checked() -> None:
    day = [datetime(2026, 11, d, tzinfo=UTC) for d in (1, 2, 3)]
    entries = [Entry("a", published=day[0]), Entry("b"), Entry("c", published=day[2])]
    entries += [Entry("d", published=day[1]), Entry("c", published=day[2])]
    assert [e.url for e in newest_entries(entries)] == ["c", "d"]
    assert [e.url for e in newest_entries(entries, count=5)] == ["c", "d", "a", "b"]


def test_the_report_names_each_field() -> None:
    check = SourceCheck(
        "cnbeta", "cnbeta", pages=[PageCheck("https://x/1", title=True, text_chars=80)]
    )
    assert format_checks([check]).splitlines() == [
        "cnbeta (site module cnbeta): ok",
        "  page  https://x/1  title yes, text 80 chars, date NO, author NO",
    ]


# The installed command against local copies --------------------------------------------------


@pytest.fixture
def changed_cnbeta() -> Iterator[Mirror]:
    with changed_copies() as mirror:
        yield mirror


@contextmanager
def changed_copies() -> Iterator[Mirror]:
    """The five sites' recorded copies, cnBeta's pages in a layout its module does not know."""
    mirror = Mirror.from_directory(SITES_DIR)
    for url in RELAYOUT:
        mirror.set_page(url, Page(relayout_cnbeta(mirror.get_page(url).body)))
    with mirror:
        yield mirror


def test_check_sites_reports_the_broken_module_and_passes_the_others(
    changed_cnbeta: Mirror, tmp_path: Path
) -> None:
    seeds = str(local_seeds(tmp_path / "seeds", changed_cnbeta))
    found = check_sites_in_process(Path(seeds), settings=FAST_SETTINGS)
    checks = {c["source"]: c for c in json.loads(checks_json(found))}
    assert {s: c["verdict"] for s, c in checks.items()} == {s: "ok" for s in SITE_IDS} | {
        "cnbeta": "broken"
    }
    cnbeta = checks["cnbeta"]
    assert [lst["entries"] for lst in cnbeta["lists"]] == [4]
    assert len(cnbeta["pages"]) == 2
    assert all(p["text_chars"] == 0 and not p["title"] for p in cnbeta["pages"])
    # caijing's two lists, in the seeds' order, both read.
    assert [lst["entries"] > 0 for lst in checks["caijing"]["lists"]] == [True, True]

    # The README's example, exactly, by the command itself: exit status 1 for a broken module.
    command = "followup check-sites --source caijing --source cnbeta"
    two = run_followup(*command.split()[1:], "--seeds", seeds, *FAST)
    assert two.returncode == 1, two.stderr
    assert real_urls(changed_cnbeta, two.stdout).splitlines() == readme_example(command)
