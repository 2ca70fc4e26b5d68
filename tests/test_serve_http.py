"""The installed `followup serve` on a free port, over a store a real crawl fills while it serves.

One module-scoped server and one crawl (tests/web on 127.0.0.1): the canned queries' JSON, the
search box with a three-character Chinese term, the Atom feed, and a headless Chromium reading
the latest-coverage page. Every wait has a generous ceiling and ends as soon as its condition
holds; the server is stopped and reaped by the fixture.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import feedparser
import pytest
from parsel import Selector
from sqlite_utils import Database

from crawler.demo import restore_real_urls
from crawler.mirror import Mirror
from crawler.store import Store
from crawler.web.cells import beijing_time
from tests.conftest import TWO_TOPICS
from tests.helpers import (
    FAST_SETTINGS,
    HEALTHY_SOURCES,
    WEB,
    setting_args,
    write_seeds,
)
from tests.test_serve import readme_serve_examples

READY_CEILING = 120.0  # seconds the server may take to answer its first request
CRAWL_CEILING = 300.0
BROWSER_CEILING = 180.0
FOLLOWUP = Path(sys.executable).with_name("followup")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Three characters of Chinese that occur in some articles of tests/web and not in others.
SEARCH_TERM = "微信支"
README = Path(__file__).parents[1] / "README.md"
ANNOUNCED = re.compile(r"read-only at (http://127\.0\.0\.1:\d+)/ ")
README_REQUEST = re.compile(
    r"^    \$ curl -s 'http://127\.0\.0\.1:8001(?P<path>[^']+)'\n    (?P<output>.+)$", re.MULTILINE
)


def wait_for(condition: Callable[[], bool], *, ceiling: float, what: str) -> None:
    """Poll condition until it holds; fail naming `what` after `ceiling` seconds."""
    deadline = time.monotonic() + ceiling
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {ceiling:.0f} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Server:
    """A running `followup serve` and how to reach it."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path
    db: Path
    crawl_summary: dict[str, Any] = field(default_factory=dict)
    statuses_during_crawl: list[int] = field(default_factory=list)
    articles_before_crawl: int = -1

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=60) as response:
            body: bytes = response.read()
            return body

    def rows(self, path: str, **params: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"_shape": "array", **params})
        result: list[dict[str, Any]] = json.loads(self.get(f"{path}.json?{query}"))
        return result

    def status(self, path: str) -> int:
        try:
            self.get(path)
        except urllib.error.HTTPError as exc:
            return exc.code
        return 200

    def announced(self) -> bool:
        """True once the server has printed the address it listens on (base is then set)."""
        self.exited()
        found = ANNOUNCED.search(self.log.read_text(encoding="utf-8"))
        if found:
            self.base = found[1]
        return found is not None

    def exited(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"followup serve exited {self.process.returncode}: {self.log.read_text()}")

    def answers(self) -> bool:
        self.exited()
        try:
            self.get("/-/versions.json")
        except (urllib.error.URLError, ConnectionError):
            return False
        return True


def start_server(db: Path, log: Path) -> Server:
    """`followup serve --port 0`: the system picks a free port as the server binds it (no other
    process can take it first); the server's first line names it."""
    with log.open("wb") as stderr:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [str(FOLLOWUP), "serve", "--db", str(db), "--port", "0"],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return Server(process, "", log, db)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=60)


def crawl_while_serving(server: Server, root: Path) -> None:
    """Crawl tests/web into the served store, reading through the server all the while."""
    with Mirror.from_directory(WEB) as mirror:
        # The README's examples come from this crawl: tests/web, the two topics of conftest.
        seeds = write_seeds(root / "seeds", mirror, HEALTHY_SOURCES, topics=TWO_TOPICS)
        command = [str(FOLLOWUP), "crawl", "--seeds", str(seeds), "--db", str(server.db)]
        out, err = root / "crawl.json", root / "crawl.log"  # files: a full pipe would block it
        with out.open("wb") as stdout, err.open("wb") as stderr:
            crawl = subprocess.Popen(
                [*command, "--json", *setting_args(FAST_SETTINGS)], stdout=stdout, stderr=stderr
            )
            try:
                while crawl.poll() is None:
                    server.statuses_during_crawl.append(server.status("/followup/articles.json"))
                crawl.wait(timeout=CRAWL_CEILING)
            finally:
                stop(crawl)
        assert crawl.returncode == 0, err.read_text()
        server.crawl_summary = json.loads(out.read_text())
        # The real addresses the local copies stand for, written while the server reads.
        with Database(server.db) as db:
            restore_real_urls(db, mirror)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("serve")
    db = root / "followup.db"
    Store.open(db).close()  # what a daemon's first start leaves: migrated, empty
    server = start_server(db, root / "serve.log")
    try:
        wait_for(server.announced, ceiling=READY_CEILING, what="followup serve to listen")
        wait_for(server.answers, ceiling=READY_CEILING, what="followup serve to answer")
        server.articles_before_crawl = len(server.rows("/followup/articles", _col="id"))
        crawl_while_serving(server, root)
        yield server
    finally:
        stop(server.process)


def stored(server: Server, sql: str) -> list[dict[str, Any]]:
    with Database(server.db) as db:
        return list(db.query(sql))


def test_serve_announces_itself_and_sees_what_a_crawl_writes(served: Server) -> None:
    # --port 0: the line names the port the system picked, and the server answers there.
    first = served.log.read_text().splitlines()[0]
    assert first.startswith(f"Serving {served.db} read-only at {served.base}/")
    port = served.base.rsplit(":", 1)[1]
    assert int(port) > 0
    example = readme_serve_examples()["serve --db followup.db --port 0"]
    assert re.sub(r":\d+/", f":{port}/", example).replace("followup.db", str(served.db)) == first
    assert served.articles_before_crawl == 0
    assert served.statuses_during_crawl and set(served.statuses_during_crawl) == {200}
    ids = [r["id"] for r in served.rows("/followup/articles", _col="id", _size="max")]
    assert sorted(ids) == [r["id"] for r in stored(served, "SELECT id FROM articles ORDER BY id")]
    assert len(ids) >= 5


def test_latest_coverage_json(served: Server) -> None:
    rows = served.rows("/followup/latest_coverage", topic="interop")
    expected = stored(
        served,
        """SELECT a.url FROM articles a JOIN article_topics t ON t.article_id = a.id
           WHERE t.topic = 'interop' ORDER BY a.published_at DESC, a.id DESC""",
    )
    assert [r["url"] for r in rows] == [r["url"] for r in expected]
    assert all(r["url"].startswith("https://") for r in rows)  # the originals, not the copies
    with_copies = [r for r in rows if r["sighting_count"]]
    assert with_copies, "tests/web has reposts: some article must have sightings"
    for row in with_copies:
        assert len(json.loads(row["sightings"])) == row["sighting_count"]


def test_story_sightings_json(served: Server) -> None:
    copy = stored(served, "SELECT url, duplicate_of FROM duplicates LIMIT 1")[0]
    rows = served.rows("/followup/story_sightings", story=copy["url"])
    assert rows[0]["role"] == "original" and rows[0]["story"] == copy["duplicate_of"]
    assert copy["url"] in [r["url"] for r in rows if r["role"] == "sighting"]


def test_source_health_json_has_the_crawls_figures(served: Server) -> None:
    health = {r["source"]: r for r in served.rows("/followup/source_health")}
    for source, figures in served.crawl_summary["sources"].items():
        if source == "seeds":
            continue
        assert health[source]["runs_24h"] == 1
        assert health[source]["new_24h"] == figures["new"]
        assert health[source]["duplicates_24h"] == figures["duplicates"]
        assert health[source]["irrelevant_24h"] == figures["irrelevant"]


def test_articles_per_day_json_counts_every_article(served: Server) -> None:
    rows = served.rows("/followup/articles_per_day")
    assert sum(r["articles"] for r in rows) == len(stored(served, "SELECT id FROM articles"))
    assert [r["day"] for r in rows] == sorted((r["day"] for r in rows), reverse=True)


def test_search_finds_a_three_character_chinese_term(served: Server) -> None:
    found = served.rows("/followup/articles", _search=SEARCH_TERM, _col="title")
    expected = stored(
        served,
        f"SELECT id FROM articles WHERE title LIKE '%{SEARCH_TERM}%' OR text LIKE '%{SEARCH_TERM}%'",
    )
    assert 0 < len(expected) < len(stored(served, "SELECT id FROM articles"))
    assert sorted(r["id"] for r in found) == sorted(r["id"] for r in expected)


def test_topic_feed_reads_back_as_atom(served: Server) -> None:
    feed = feedparser.parse(served.get("/followup/topic_feed.atom?topic=interop"))
    assert feed.bozo == 0, feed.get("bozo_exception")
    latest = served.rows("/followup/latest_coverage", topic="interop")[:50]
    assert [e.link for e in feed.entries] == [r["url"] for r in latest]
    assert feed.feed.title == "话题订阅 · Topic feed"


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no headless browser: install Chromium (apt-get install chromium) to run this check",
)
def test_a_browser_renders_the_latest_coverage_page(served: Server, tmp_path: Path) -> None:
    newest = served.rows("/followup/latest_coverage")[0]
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        f"{served.base}/followup/latest_coverage",
    ]
    result = subprocess.run(command, capture_output=True, timeout=BROWSER_CEILING, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    page = Selector(text=result.stdout.decode("utf-8"))
    first = page.css("tbody tr")[0]
    assert first.css("td.col-title a::text").get() == newest["title"]
    assert first.css("td.col-title a::attr(href)").get() == newest["url"]
    assert first.css("td.col-published_at time::text").get() == beijing_time(newest["published_at"])


def test_readme_requests_give_what_the_readme_shows(served: Server) -> None:
    examples = list(README_REQUEST.finditer(README.read_text(encoding="utf-8")))
    assert examples, "README.md shows no request to followup serve"
    for example in examples:
        assert json.loads(served.get(example["path"])) == json.loads(example["output"])
