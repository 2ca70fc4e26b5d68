"""The benchmark's smoke test: `python -m bench --quick`, at its smallest, runs and reports
every measurement.

No timing is asserted (a shared CI machine decides those); the run must finish, every row must be
in the table and figures must be numbers that make sense. Request counts are not timings: the
unchanged re-crawl must make one request per list, answered 304, and fetch no article page.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

from bench.extraction import baseline_available
from tests.neardup.corpus import load_articles

REPO = Path(__file__).resolve().parents[1]
# The smallest run that still exercises every measurement: one source (one feed or list of two
# articles), one index size, and two rounds of the daemon's two sources, so that crawl children
# have ended and been measured. Start-up of the ~20 child processes is most of its time.
SMALLEST = (
    *("--sources", "1", "--articles", "2", "--index-sizes", "1000"),
    *("--lookups", "50", "--daemon-cycles", "4"),
)
QUICK_SIZES = ("1,000",)
ROWS = (
    "1. Crawl wall time",
    "1. CPU per article (user + sys, start-up included)",
    "1. CPU per article, start-up excluded",
    "1. Peak RSS of the crawl",
    "1. CPU per article, baseline with Scrapy's default CONCURRENT_ITEMS",
    "2. Unchanged re-crawl: requests",
    "2. Unchanged re-crawl: wall time",
    *(
        f"3. Index {kind}, {size} stored"
        for size in QUICK_SIZES
        for kind in ("lookup", "insert", "memory")
    ),
    "4. Fingerprint of a 5,000-character article",
    "5. Daemon RSS after",
    "5. Each crawl of the daemon",
    "6a. Near-duplicate recall, own corpus",
    "6b. Near-duplicate lookup with the second tier",
    "6c. Ingest CPU per related article",
    *(
        f"7. followup serve, 2,000 articles: {page}"
        for page in (
            "landing page /",
            "database page /followup",
            "articles table",
            "latest_coverage (topic='')",
            "latest_coverage (topic=rare)",
            "story_sightings",
            "search (q=微信支付)",
            "search (q=微信)",
            "source_health",
            "articles_per_day",
            "topic_feed (Atom)",
            "articles table's search box",
        )
    ),
    "8. CPU per daemon poll",
    "8. 100 sources every 15 min",
    "8. Daemon + workers peak RSS",
    *(
        f"10. Export {fmt}, 2,000 articles: {figure}"
        for fmt in ("ndjson", "csv")
        for figure in ("peak RSS", "rows per CPU second", "rows/s")
    ),
    *(f"10. Search, {length} characters" for length in (2, 3, 4)),
    "10. Store bytes per article",
    "10. CPU to store and index an article",
    *(f"12. 1 sources: {figure}" for figure in ("wall time", "CPU", "rows stored")),
    # Measurement 14 times against an earlier commit too (a shallow checkout skips it).
    *(
        (
            "14. Recent-window load at crawl start, 2,000 articles, quiet store",
            "14. Recent-window load at crawl start, 2,000 articles, the store as built",
            "14. Near-duplicate lookup",
            *("14. `followup status`, 2,000 articles",) * 3,  # wall, CPU, the whole command
            "14. Crawl CPU per article",
        )
        if baseline_available()
        else ()
    ),
)
QUICK_LISTS = 1  # one source with one feed or list
QUICK_CYCLES = 4
BENCH_CEILING = 1800  # seconds: a guard against a hung run (the bench has its own), not a budget
# Measurements 9 and 14 time against earlier commits: a checkout without them (shallow) skips them.
# Measurement 11 needs a PostgreSQL server: tests/test_bench_postgres.py runs it.
ONLY = (
    "--only",
    "1,2,3,4,5,6,7,8,9,10,12,14" if baseline_available() else "1,2,3,4,5,6,7,8,10,12",
)
# Measurement 9 has a row per site and page origin: every site's recorded pages at least.
EXTRACTION_ROWS = tuple(
    f"9. Page extraction, {site}, recorded pages"
    for site in ("36kr", "caijing", "cnbeta", "huxiu", "niaogebiji")
)
REAL_ROW = "6a. Near-duplicate recall, real texts in "
NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
DURATION_RE = re.compile(r"\d+(?:\.\d+)? (?:s|ms|µs)")


def write_feed(directory: Path) -> None:
    """An RSS file of the corpus's own articles, as a directory of real feeds would hold them,
    and one Markdown-titled .txt article with a credit line."""
    items = "".join(
        f"<item><title>{a.title}</title><description><![CDATA["
        + "".join(f"<p>{p}</p>" for p in a.body.split("\n"))
        + "]]></description></item>"
        for a in load_articles()
    )
    (directory / "feed.xml").write_text(
        f'<?xml version="1.0" encoding="utf-8"?><rss><channel>{items}</channel></rss>',
        encoding="utf-8",
    )
    (directory / "one.txt").write_text(
        "# 标题\n**编辑：某某**\n\n" + "这是一段足够长的正文。" * 60 + "\n", encoding="utf-8"
    )


def table_rows(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines():
        if line.startswith("| ") and not line.startswith("| measurement"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def numbers(cell: str) -> list[float]:
    return [float(n.replace(",", "")) for n in NUMBER_RE.findall(cell)]


def test_quick_benchmark_reports_every_measurement(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    # Measurement 6 on real texts too (`--real`): the same run, not a second benchmark process.
    real = tmp_path / "real"
    real.mkdir()
    write_feed(real)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "--quick", *SMALLEST, "--out", str(report), *ONLY),
            *("--real", str(real)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BENCH_CEILING,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = table_rows(result.stdout)
    for expected in ROWS:
        assert [name for name in rows if name.startswith(expected)], f"no row {expected!r}"
    for expected in EXTRACTION_ROWS if baseline_available() else ():
        assert [name for name in rows if name.startswith(expected)], f"no row {expected!r}"
    assert len([name for name in rows if not name.startswith(("9. ", REAL_ROW))]) == len(ROWS)
    assert "not measured" not in result.stdout + result.stderr
    for name, (followup, baseline, _, met) in rows.items():
        figures = numbers(followup) + numbers(baseline)
        assert figures or followup == "start-up dominates at this size", name
        assert all(math.isfinite(f) and f >= 0 for f in figures), (name, followup, baseline)
        assert met in ("yes", "**no**", "—")
    assert_recrawl_figures(rows)
    assert_real_texts_figures(rows, real)
    assert_daemon_figures(rows)
    assert_worker_figures(rows)
    text = report.read_text(encoding="utf-8")
    assert "| measurement | followup | baseline | ratio / target | met? |" in text
    for section in (
        "## Machine",
        "## Parameters",
        "## 1. Full pipeline",
        "## 2. Unchanged re-crawl",
        "## 3. Near-duplicate",
        "## 5. Daemon RSS",
        "## 7. `followup serve` on a large store",
        "## 8. Daemon polls",
        "## 10. Streaming readers and search",
        "## 12. Crawl nodes",
        *(("## 14. A store of a million articles",) if baseline_available() else ()),
        *(("## 9. Page extraction per site",) if baseline_available() else ()),
    ):
        assert section in text


def row(rows: dict[str, list[str]], prefix: str) -> list[str]:
    (name,) = [name for name in rows if name.startswith(prefix)]
    return rows[name]


def assert_real_texts_figures(rows: dict[str, list[str]], directory: Path) -> None:
    """Measurement 6 on the directory's texts: the corpus's articles from its feed, plus one
    .txt article."""
    real = [name for name in rows if name.startswith(f"{REAL_ROW}{directory.name}")]
    assert len(real) == 1 and "11 articles" in real[0]
    recall, precision, *_ = numbers(rows[real[0]][0])
    assert 0 <= recall <= 1 and 0 <= precision <= 1


def assert_recrawl_figures(rows: dict[str, list[str]]) -> None:
    """Counted on the mirror's log: 304 for each list, robots.txt from the store, no page;
    the baseline fetches them all."""
    followup, baseline, _, met = row(rows, "2. Unchanged re-crawl: requests")
    lists = QUICK_LISTS
    assert followup == (
        f"{lists}: {lists} feeds and lists ({lists} × 304), 0 robots.txt, 0 article pages"
    )
    assert met == "yes"
    total, feeds, robots, pages = numbers(baseline)
    assert feeds == lists and pages > 0 and total == feeds + robots + pages
    followup, baseline, _, _ = row(rows, "2. Unchanged re-crawl: wall time")
    assert DURATION_RE.fullmatch(followup), followup
    assert DURATION_RE.fullmatch(baseline.removeprefix("bare Scrapy ")), baseline


def assert_daemon_figures(rows: dict[str, list[str]]) -> None:
    """RSS after the first crawl and after the last, a peak no lower than either, a verdict."""
    (name,) = [name for name in rows if name.startswith("5. Daemon RSS after")]
    _, cycles = numbers(name)
    assert cycles >= QUICK_CYCLES  # crawls may finish together
    followup, _, growth, met = rows[name]
    first, first_crawl, last, last_crawl, peak = numbers(followup)
    assert first_crawl >= 1 and last_crawl >= QUICK_CYCLES
    assert 10 < first <= peak and 10 < last <= peak < 1000  # MB: a Python process, not a leak
    assert re.fullmatch(r"growth [+-]\d+\.\d MB \(target ≤ 5 MB\)", growth)
    assert met in ("yes", "**no**")
    followup, _, _, _ = row(rows, "5. Each crawl of the daemon")
    cpu, median, largest = numbers(followup)
    assert cpu > 0 and 10 < median <= largest


def assert_worker_figures(rows: dict[str, list[str]]) -> None:
    """Workers beside a child per poll: CPU per poll, share of a core, summed RSS, all sane."""
    followup, baseline, _, _ = row(rows, "8. CPU per daemon poll")
    assert "(workers)" in followup and "(child per poll)" in baseline
    assert DURATION_RE.match(followup) and DURATION_RE.match(baseline)
    followup, baseline, _, _ = row(rows, "8. 100 sources every 15 min")
    assert 0 < numbers(followup)[0] < 100 and 0 < numbers(baseline)[0] < 100  # percent
    followup, baseline, _, _ = row(rows, "8. Daemon + workers peak RSS")
    assert 30 < numbers(followup)[0] < 5000 and 30 < numbers(baseline)[0] < 5000  # MB
