"""The five real sources end to end on their recorded copies: a crawl in the test process, and
the installed `followup demo`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from crawler.cli import cli
from crawler.config import load_seeds
from crawler.demo import SEEDS_DIR, SITES_DIR
from crawler.mirror import Mirror
from crawler.sites import SITES, get_site
from tests.helpers import crawl, run_followup
from tests.test_sites import load_expected

SITE_IDS = tuple(sorted(s for s in SITES if s != "generic"))
# Cross-site reposts in the recorded copies: (repost, its original).
REPOSTS = {
    "https://www.cnbeta.com.tw/articles/tech/1591455.htm": "https://tech.caijing.com.cn/20261116/5127031.shtml",
    "https://www.niaogebiji.com/article-215020-1.html": "https://www.huxiu.com/article/4904127.html",
}
WAF_SHELL = "https://36kr.com/p/3913688451203077"


@pytest.fixture
def sites() -> Iterator[Mirror]:
    with Mirror.from_directory(SITES_DIR) as mirror:
        yield mirror


def local_seeds(directory: Path, mirror: Mirror) -> Path:
    """The demo's seeds as TOML files pointing at the mirror (topic seeds name their site)."""
    seeds = load_seeds(SEEDS_DIR)
    directory.mkdir()
    sources = "".join(
        f'[[source]]\nid = "{s.id}"\nsite = "{s.site}"\n'
        f"feeds = {json.dumps([mirror.url_for(u) for u in s.feeds])}\n"
        f"lists = {json.dumps([mirror.url_for(u) for u in s.lists])}\n\n"
        for s in seeds.sources
    )
    (topic,) = seeds.topics
    topic_seeds = ", ".join(
        f'{{ url = "{mirror.url_for(s.url)}", site = "{s.site}" }}' for s in topic.seeds
    )
    topics = f"[[topic]]\nid = \"{topic.id}\"\nquery = '''{topic.query.source}'''\nseeds = [{topic_seeds}]\n"
    (directory / "sources.toml").write_text(sources, encoding="utf-8")
    (directory / "topics.toml").write_text(topics, encoding="utf-8")
    return directory


def expected_articles() -> dict[str, dict[str, Any]]:
    """Every recorded article's expected extraction by real URL, with the authors its feed
    entry and its page name (a full-text feed item is stored without fetching the page)."""
    found: dict[str, dict[str, Any]] = {}
    for site_id in SITE_IDS:
        expected = load_expected(site_id)
        for entries in expected.get("feeds", {}).values():
            for entry in entries:
                found.setdefault(entry["url"], {"authors": set()})["authors"].add(entry["author"])
                if entry["text"]:
                    found[entry["url"]].update(title=entry["title"], text=entry["text"])
        for url, page in expected.get("pages", {}).items():
            if "text" in page:
                record = found.setdefault(url, {"authors": set()})
                record["authors"].add(page["author"])
                record.setdefault("title", page["title"])
                record.setdefault("text", page["text"])
    return found


def test_crawl_of_the_five_recorded_sites(sites: Mirror, tmp_path: Path) -> None:
    db_path = tmp_path / "five.db"
    seeds = local_seeds(tmp_path / "seeds", sites)
    # The shipped settings (timeouts, retries, robots.txt) without the politeness delays.
    report = crawl(seeds, db_path, settings={"AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0"})
    db = Database(db_path)
    articles = {sites.real_url(a["url"]): a for a in db.query("SELECT * FROM articles")}
    expected = expected_articles()

    # Every source contributed related articles, each extracted exactly as its site module does.
    assert {a["source"] for a in articles.values() if not a["baseline"]} == set(SITE_IDS)
    for url, article in articles.items():
        want = expected[_real_identity(url)]
        assert article["title"] == want["title"], url
        assert article["text"] == want["text"], url
        assert article["published_at"] is not None and article["published_at"].endswith("Z"), url
        assert (article["author"] or "") in want["authors"] | {""}, url
    # Times are UTC: the caijing seed page prints 2023-10-18 11:26:40 Beijing time.
    seed = articles["https://tech.caijing.com.cn/20231018/4965423.shtml"]
    assert (seed["baseline"], seed["published_at"]) == (1, "2023-10-18T03:26:40Z")

    # Cross-site reposts are sightings of the first publication, whichever was crawled first.
    duplicates = {sites.real_url(d["url"]): d for d in db.query("SELECT * FROM duplicates")}
    by_id = {a["id"]: url for url, a in articles.items()}
    assert {
        _real_identity(url): _real_identity(by_id[d["duplicate_of"]])
        for url, d in duplicates.items()
    } == REPOSTS

    seen = {sites.real_url(r["url"]): r for r in db.query("SELECT * FROM seen")}
    assert seen[WAF_SHELL]["status"] == "blocked"
    assert WAF_SHELL not in articles
    assert report["36kr"]["blocked"] == 1
    assert all(report[s]["lists_read"] >= 1 and report[s]["new"] >= 1 for s in SITE_IDS)
    # One unrelated piece per site, and three more on caijing's tech listing (its second list).
    assert {s: report[s]["irrelevant"] for s in SITE_IDS} == {s: 1 for s in SITE_IDS} | {
        "caijing": 4
    }
    assert report["caijing"]["lists_read"] == 2 and report["caijing"]["failed"] == 0


def _real_identity(url: str) -> str:
    """The canonical real URL (local copies are reached through the host the feed names)."""
    for site_id in SITE_IDS:
        site = get_site(site_id)
        if site.matches_url(url):
            return site.canonical_url(url)
    return url


def test_demo_runs_offline_and_replaces_only_its_own_database(tmp_path: Path) -> None:
    db_path = tmp_path / "demo.db"
    for _ in range(2):  # a second demo replaces the first one's database
        result = run_followup("demo", "--db", str(db_path))
        assert result.returncode == 0, result.stderr
    assert "also on cnbeta (distance" in result.stdout
    assert "https://www.cnbeta.com.tw/articles/tech/1591455.htm" in result.stdout
    assert "[baseline]" in result.stdout
    assert "niaogebiji" in result.stderr and "blocked" in result.stderr
    db = Database(db_path)
    # The demo database holds the real addresses, canonical, not the local server's.
    urls = [r["url"] for r in db.query("SELECT url FROM articles UNION SELECT url FROM duplicates")]
    assert urls and not [u for u in urls if "127.0.0.1" in u]
    assert (
        "https://www.36kr.com/p/3912047785610501" in urls
    )  # the feed linked https://36kr.com/p/…?f=rss
    assert db["crawl_runs"].count == 1

    precious = tmp_path / "followup.db"
    precious.write_bytes((tmp_path / "demo.db").read_bytes())
    with Database(precious) as not_a_demo:  # closing checkpoints the WAL into the file
        not_a_demo.execute("DROP TABLE _followup_demo")
    before = precious.read_bytes()
    refused = CliRunner().invoke(cli, ["demo", "--db", str(precious)])  # refused before crawling
    assert refused.exit_code == 2
    assert "was not made by `followup demo`" in refused.stderr
    assert precious.read_bytes() == before


def test_demo_topic_is_the_shipped_default() -> None:
    shipped = load_seeds(Path(__file__).parents[1] / "seeds")
    demo = load_seeds(SEEDS_DIR)
    assert [t.query.source for t in demo.topics] == [t.query.source for t in shipped.topics]
    assert {(s.id, s.site) for s in demo.sources} == {(s.id, s.site) for s in shipped.sources}
