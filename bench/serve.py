"""Measurement 6: `followup serve` on a store of 1M articles, against the same SQL elsewhere.

The store is built by SQL (not by crawling): N articles over ~3 years from 20 sources, filed under
three topics (60 %, 40 % and a rare one, 0.1 %), 10 % of them seen on another site, a month of
a daemon's crawl runs every 5 minutes, and the FTS index (built once after the load). Texts are short
(one generated paragraph, ~150 characters) so the build stays within minutes; no page or query
measured here reads article text beyond the rows it shows.

Then `followup serve` answers the landing page, the database page, the articles table (sorted,
faceted) and each canned query over HTTP: a warm-up request, then the median and maximum of
`REPEATS`. Baselines from the same run, on the same file: plain `datasette` (no metadata, no
plugin, its own facet suggestions) running the same SQL through `?sql=`, and the SQL straight in
sqlite3; and two queries in sqlite3 as they would be without the table that serves them
(m009_serve's article_days, m013_scale's crawl_run_sources).
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.context import BenchError, Context, followup_command
from bench.report import Row, markdown_table, median, seconds
from bench.textgen import TextGenerator
from crawler.health import verdict_row
from crawler.search import index_pending
from crawler.web.plugin import register_functions

REPEATS = 5
TARGET = 1.0  # seconds: the ceiling for the landing page and each canned query
READY_CEILING = 300.0
# The address a server started with --port 0 logs.
LISTENING = re.compile(r"(http://127\.0\.0\.1:[1-9][0-9]*)")
SOURCES = (
    "36kr",
    "huxiu",
    "cnbeta",
    "caijing",
    "niaogebiji",
    *(f"bench{n:02d}" for n in range(15)),
)
TOPICS = (("interop", 0.6), ("brokers", 0.4))
RARE_TOPIC, RARE_SHARE = "rare", 0.001
SIGHTINGS = 0.10
NO_DATE = 0.02
SPAN = timedelta(days=1000)
RUN_EVERY = timedelta(minutes=5)
RUN_DAYS = 30
SEARCH_TERM = "微信支付"
SHORT_TERM = "微信"  # two characters: no trigram lookup, a newest-first scan
EMPTY = "''"
# articles_per_day as it would be without the article_days table of m009_serve.
COUNT_BY_DAY = """SELECT date(coalesce(published_at, fetched_at), '+8 hours') AS day, source,
    count(*) AS articles FROM articles GROUP BY 1, 2 ORDER BY 1 DESC, 2"""
# source_health's figures as it read them before m013_scale: parsed from every crawl_runs.stats
# of the last 24 hours (the canned query's other parts unchanged).
FIGURES_FROM_JSON = """WITH recent AS (
    SELECT s.key AS source, s.value AS counts
    FROM crawl_runs r, json_each(r.stats, '$.sources') s
    WHERE r.started_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-24 hours')
      AND r.stats IS NOT NULL
  ),
  figures AS (
    SELECT source, count(*) AS runs_24h,
           sum(coalesce(json_extract(counts, '$.new'), 0)) AS new_24h,
           sum(coalesce(json_extract(counts, '$.duplicates'), 0)) AS duplicates_24h,
           sum(coalesce(json_extract(counts, '$.irrelevant'), 0)) AS irrelevant_24h
    FROM recent GROUP BY source
  ),
  """
POOL = 2_000  # generated paragraphs and headlines, reused across articles
BULK_BATCH = 50_000  # articles indexed per transaction after the load


@dataclass(frozen=True, slots=True)
class Page:
    """One thing measured: a name, its path on followup serve, the SQL it runs (if a query)."""

    name: str
    path: str
    sql: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    targeted: bool = True  # the 1 s applies (landing pages and canned queries)


def build_store(path: Path, size: int, *, seed: int) -> dict[str, int]:
    """A migrated followup store of `size` articles, written by SQL in one transaction."""
    from crawler.store import Store

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = Store.open(path)
    rng = random.Random(seed)
    text = TextGenerator(rng)
    titles = [text.headline() for _ in range(POOL)]
    bodies = [
        text.article(on_topic=i % 3 == 0, min_chars=100, max_chars=200).text for i in range(POOL)
    ]
    now = datetime.now(UTC).replace(microsecond=0)
    # Every article is queued for the search index by its trigger, then indexed after the load in
    # large batches (crawler.search), the way any bulk load is done.
    with store.transaction():
        store.db.conn.executemany(
            """INSERT INTO articles (id, url, source, title, published_at, fetched_at, text,
                                     title_key, baseline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)""",
            _articles(size, rng, titles, bodies, now),
        )
        store.db.conn.executemany(
            "INSERT INTO article_topics (article_id, topic, matched) VALUES (?, ?, '[]')",
            _topics(size, rng),
        )
        store.db.conn.executemany(
            """INSERT INTO duplicates (url, source, title, duplicate_of, distance, method,
                                       published_at, seen_at) VALUES (?, ?, ?, ?, ?, 'simhash', ?, ?)""",
            _sightings(size, rng, now),
        )
        _daemon_history(store.db.conn, now)
    index_pending(store.db, batch=BULK_BATCH)
    counts = {
        table: store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("articles", "article_topics", "duplicates", "crawl_runs")
    }
    store.db.execute("ANALYZE")
    store.close()
    return counts


def large_store(ctx: Context, size: int) -> Path:
    """The store of `size` articles measurements 10 and 14 read, built once per run."""
    path = ctx.path("large") / "followup.db"
    if ctx.large_store_size != size:
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        build_store(path, size, seed=ctx.options.seed)
        ctx.large_store_size = size
        print(f"built {size:,} articles in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def _when(i: int, size: int, now: datetime) -> datetime:
    """Article i of size: older ids earlier, spread over SPAN."""
    return now - SPAN * (1 - i / size)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _articles(
    size: int, rng: random.Random, titles: list[str], bodies: list[str], now: datetime
) -> Iterator[tuple[Any, ...]]:
    for i in range(1, size + 1):
        fetched = _when(i, size, now)
        published = None if rng.random() < NO_DATE else _iso(fetched - timedelta(minutes=30))
        source = SOURCES[i % len(SOURCES)]
        title = f"{titles[i % POOL]}（{i}）"
        yield (
            i,
            f"https://{source}.example/a/{i}",
            source,
            title,
            published,
            _iso(fetched),
            bodies[i % POOL],
            f"k{i}",
        )


def _topics(size: int, rng: random.Random) -> Iterator[tuple[int, str]]:
    for i in range(1, size + 1):
        chosen = [topic for topic, share in TOPICS if rng.random() < share] or [TOPICS[0][0]]
        if rng.random() < RARE_SHARE:
            chosen.append(RARE_TOPIC)
        yield from ((i, topic) for topic in chosen)


def _sightings(size: int, rng: random.Random, now: datetime) -> Iterator[tuple[Any, ...]]:
    for n, i in enumerate(rng.sample(range(1, size + 1), int(size * SIGHTINGS))):
        seen = _when(i, size, now) + timedelta(hours=2)
        yield (
            f"https://copies.example/{n}",
            "copies",
            f"转载 {i}",
            i,
            rng.randint(0, 10),
            _iso(seen),
            _iso(seen),
        )


def _daemon_history(conn: sqlite3.Connection, now: datetime) -> None:
    """A month of crawl runs every RUN_EVERY, and the daemon's state of the five real sources."""
    runs = int(timedelta(days=RUN_DAYS) / RUN_EVERY)
    figures = {"new": 1, "duplicates": 0, "irrelevant": 4, "entries": 20}
    stats = json.dumps({"reason": "finished", "sources": dict.fromkeys(SOURCES[:5], figures)})
    conn.executemany(
        "INSERT INTO crawl_runs (started_at, finished_at, sources, stats) VALUES (?, ?, '[]', ?)",
        ((_iso(now - RUN_EVERY * k), _iso(now - RUN_EVERY * k), stats) for k in range(runs, 0, -1)),
    )
    # What Store.finish_run records beside each run (m013_scale): each of its sources' verdict.
    values = ", ".join(str(value) for value in verdict_row(figures))
    conn.executemany(
        f"INSERT INTO crawl_run_sources SELECT ?, started_at, id, {values} FROM crawl_runs",
        [(source,) for source in SOURCES[:5]],
    )
    conn.executemany(
        """INSERT INTO source_state (source, interval_seconds, consecutive_failures, last_run_at,
               last_success_at, next_run_at) VALUES (?, 300, 0, ?, ?, ?)""",
        ((s, _iso(now), _iso(now), _iso(now + RUN_EVERY)) for s in SOURCES[:5]),
    )


def pages(story: int) -> list[Page]:
    """What is measured: the landing pages and every canned query (with the SQL it runs)."""
    from crawler.web.app import load_metadata

    queries = load_metadata()["databases"]["followup"]["queries"]

    def canned(name: str, **params: str) -> Page:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return Page(name, f"/followup/{name}{query}", queries[name]["sql"], tuple(params.items()))

    feed = canned("topic_feed", topic="interop")
    return [
        Page("landing page /", "/"),
        Page("database page /followup", "/followup"),
        Page("articles table (newest first, facets)", "/followup/articles", targeted=False),
        canned("latest_coverage", topic=""),
        canned("latest_coverage", topic=RARE_TOPIC),
        canned("story_sightings", story=str(story)),
        canned("search", q=SEARCH_TERM),
        canned("search", q=SHORT_TERM),
        canned("source_health"),
        canned("articles_per_day"),
        Page(
            "topic_feed (Atom)",
            feed.path.replace("topic_feed?", "topic_feed.atom?"),
            feed.sql,
            feed.params,
        ),
        Page(
            f"articles table's search box, {SEARCH_TERM} (FTS)",
            "/followup/articles?" + urllib.parse.urlencode({"_search": SEARCH_TERM}),
            targeted=False,
        ),
    ]


def label(page: Page) -> str:
    shown = ", ".join(f"{k}={v or EMPTY}" for k, v in page.params)
    return f"{page.name} ({shown})" if shown else page.name


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds per call, and the HTTP status of calls that failed (a query over Datasette's time
    limit is a 400)."""

    values: list[float]
    failed: tuple[int, ...] = ()


def time_request(url: str) -> int:
    """The HTTP status of one request (its time is taken by `timings`)."""
    try:
        with urllib.request.urlopen(url, timeout=600) as response:
            response.read()
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def timings(call: Callable[[], object]) -> Timing:
    """A warm-up call, then REPEATS timed ones."""
    call()
    values, failed = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        status = call()
        values.append(time.perf_counter() - started)
        if isinstance(status, int) and status != 200:
            failed.append(status)
    return Timing(values, tuple(failed))


class Server:
    """A web server in a child process, on a port the system picks as it binds (`--port 0`: no
    other process can take it first), stopped and reaped by `close`."""

    def __init__(self, command: list[str], log: Path) -> None:
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [*command, "--port", "0"], stdout=subprocess.DEVNULL, stderr=stderr
            )
        self.log, self.base = log, ""
        deadline = time.monotonic() + READY_CEILING
        while not (self._announced() and self._answers()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise BenchError(f"{' '.join(command)} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)

    def _announced(self) -> bool:
        """True once the server has logged its address (followup serve's first line, uvicorn's
        "running on" under datasette); base is then set."""
        found = LISTENING.search(self.log.read_text(encoding="utf-8", errors="replace"))
        if found:
            self.base = found[1]
        return found is not None

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/-/versions.json", timeout=60):
                return True
        except OSError:
            return False

    def time(self, path: str) -> Timing:
        return timings(lambda: time_request(self.base + path))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=60)


def plain_path(page: Page) -> str:
    """The same page in plain Datasette: the table as is, a canned query as ?sql=."""
    if page.sql is None:
        return page.path
    params = {"sql": page.sql, **dict(page.params)}
    suffix = ".atom" if ".atom" in page.path else ""
    return f"/followup{suffix}?{urllib.parse.urlencode(params)}"


def sqlite_times(db: Path, page: Page) -> Timing | None:
    """The page's SQL straight in sqlite3 (read-only)."""
    if page.sql is None:
        return None
    conn = sqlite3.connect(db)
    register_functions(conn)  # as followup serve's plugin does: source_health calls one
    try:
        params = dict(page.params)
        return timings(lambda: conn.execute(page.sql or "", params).fetchall())
    finally:
        conn.close()


def figure(timing: Timing | None) -> str:
    if timing is None:
        return "—"
    values = timing.values
    shown = f"{seconds(median(values))} (max {seconds(max(values))})"
    if timing.failed:
        return f"HTTP {timing.failed[0]} in {len(timing.failed)} of {len(values)}, {shown}"
    return shown


def measure_serve(ctx: Context) -> list[Row]:
    size = ctx.options.serve_articles
    path = ctx.path("serve") / "followup.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts = build_store(path, size, seed=ctx.options.seed)
    build = time.perf_counter() - started
    print(f"serve: built {size:,} articles in {build:.0f} s", file=sys.stderr, flush=True)
    story = _a_story(path)
    measured = pages(story)
    ours = _serve_times(
        [followup_command(), "serve", "--db", str(path)], measured, ctx.path("serve/ours.log")
    )
    plain = _serve_times(
        [str(Path(sys.executable).with_name("datasette")), "serve", str(path)],
        measured,
        ctx.path("serve/plain.log"),
        plain=True,
    )
    direct = {p.path: sqlite_times(path, p) for p in measured}
    without = {
        "articles_per_day (counted from articles, no article_days)": sqlite_times(
            path, Page("articles_per_day", "", COUNT_BY_DAY)
        ),
        "source_health (figures from crawl_runs JSON, no crawl_run_sources)": sqlite_times(
            path, _from_json(_named(measured, "source_health"))
        ),
    }
    rows = [
        _row(page, ours[page.path], plain[page.path], direct[page.path], size) for page in measured
    ]
    ctx.sections.append(_details(size, counts, build, measured, ours, plain, direct, without))
    return rows


def _from_json(page: Page) -> Page:
    """source_health with its figures read as before m013_scale's crawl_run_sources."""
    sql = page.sql or ""
    rest = re.search(r"\bsources\(source\) AS", sql)
    assert rest, "source_health's SQL has no sources CTE"
    return replace(page, sql=FIGURES_FROM_JSON + sql[rest.start() :])


def _a_story(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        found: int = conn.execute("SELECT max(duplicate_of) FROM duplicates").fetchone()[0]
        return found
    finally:
        conn.close()


def _named(measured: list[Page], name: str) -> Page:
    return next(p for p in measured if p.name == name)


def _serve_times(
    command: list[str], measured: list[Page], log: Path, *, plain: bool = False
) -> dict[str, Timing]:
    server = Server(command, log)
    try:
        return {p.path: server.time(plain_path(p) if plain else p.path) for p in measured}
    finally:
        server.close()


def _row(page: Page, ours: Timing, plain: Timing, direct: Timing | None, size: int) -> Row:
    met = not ours.failed and max(ours.values) <= TARGET
    return Row(
        f"7. followup serve, {size:,} articles: {label(page)}",
        figure(ours),
        f"plain datasette {figure(plain)}; sqlite3 {figure(direct)}",
        f"target ≤ {seconds(TARGET)} (max)" if page.targeted else "for reference",
        met if page.targeted else None,
    )


def _details(
    size: int,
    counts: dict[str, int],
    build: float,
    measured: list[Page],
    ours: dict[str, Timing],
    plain: dict[str, Timing],
    direct: dict[str, Timing | None],
    without: dict[str, Timing | None],
) -> str:
    table = markdown_table(
        ("page or query", "followup serve", "plain datasette, same SQL", "sqlite3, same SQL"),
        (
            (label(p), figure(ours[p.path]), figure(plain[p.path]), figure(direct[p.path]))
            for p in measured
        ),
    )
    indexed = markdown_table(
        ("query", "sqlite3, as served", "sqlite3, without the table"),
        (
            (name, figure(direct[_named(measured, name.split()[0]).path]), figure(values))
            for name, values in without.items()
        ),
    )
    built = ", ".join(f"{n:,} {t}" for t, n in counts.items())
    return "\n".join(
        [
            "## 7. `followup serve` on a large store",
            "",
            f"A store built by SQL in {build:.0f} s: {built}; three topics, 0.1 % of articles on the "
            "rare one; the FTS index built after the load. Each figure: the median of "
            f"{REPEATS} requests after one warm-up, and their maximum, measured by an HTTP client on "
            "the same machine. Plain datasette serves the same file without our metadata or plugin "
            "(its own facet suggestions on), each canned query's SQL run through `?sql=`.",
            "",
            table,
            "",
            "What two tables save: articles_per_day computed from `articles` instead of read "
            "from `article_days` (m009_serve), and source_health's figures parsed from the JSON of "
            "every crawl run of the last 24 hours instead of read from `crawl_run_sources` "
            "(m013_scale):",
            "",
            indexed,
        ]
    )
