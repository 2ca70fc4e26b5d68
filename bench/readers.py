"""Measurement 9: streaming readers and search at scale, each beside the code before it.

The store is built by SQL (bench/serve.py's generator, `--serve-articles` articles). Export: the
installed `followup export` against the same command of the code before streaming (`git archive
<BASELINE_REF>` unpacked into a scratch directory, put first on the child's path), each a child
measured by the kernel (peak RSS, wall time). Search: `search_articles` in process, the median of
RUNS; the baseline for two-character terms is the LIKE scan every version before m010_search
used (`crawler.search._like`, still the fallback), longer terms use the same trigram index as
before. Sizes: dbstat's bytes of each index per article.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.context import ChildRun, Context, followup_command, python, run_child
from bench.report import Row, markdown_table, ratio, seconds
from bench.searchindex import indexing_rows, size_rows
from bench.serve import large_store
from crawler.search import _like, search_articles
from crawler.store import open_readonly

# The last commit of main before streaming export and the bigram index (issue 16, points 2 and 3).
BASELINE_REF = "e74b3987d251603cd83ac653ef42f1c4b6fddbd9"
RUNS = 5
TERMS = {2: "腾讯", 3: "互联网", 4: "互联互通"}
TARGET_RSS = 150 * 2**20
TARGET_ROWS_PER_S = 20_000
TARGET_SEARCH_S = 0.5
# The export before streaming held ~6 KB per row (599 MB at 100k): not run on larger stores.
BASELINE_EXPORT_MAX = 200_000
NOT_RUN = "not run (it would hold ~6 KB per row)"
# The export before streaming, for a checkout without BASELINE_REF: every article listed, the
# whole text rendered, then written (what `followup export` did).
HOLDING_EXPORT = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from crawler.coverage import iter_coverage
from crawler.export import render
from crawler.store import open_readonly
db, fmt, out = sys.argv[3], sys.argv[5], sys.argv[7]
items = list(iter_coverage(open_readonly(db)))
Path(out).write_bytes(render(items, fmt, now=datetime.now(UTC)).encode())
"""
BASELINE_MAIN = """
import sys
sys.path.insert(0, sys.argv.pop(1))
from crawler.cli import cli
cli()
"""


def measure_readers(ctx: Context) -> list[Row]:
    size = ctx.options.serve_articles
    path = large_store(ctx, size)
    baseline = baseline_checkout(ctx.path("readers") / "baseline", BASELINE_REF)
    rows = [*_export_rows(path, size, baseline), *_search_rows(path, size)]
    rows += [*size_rows(path, size), *indexing_rows(ctx.options.seed, quick=ctx.options.quick)]
    ctx.sections.append(_details(size, rows))
    return rows


def baseline_checkout(directory: Path, ref: str) -> Path | None:
    """The code of an earlier commit, unpacked from git into directory; None where this
    checkout has no such ref (a CI clone)."""
    archive = subprocess.run(["git", "archive", ref], capture_output=True, check=False)
    if archive.returncode:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive.stdout, check=True)
    return directory


def _baseline_command(baseline: Path | None, args: list[str]) -> list[str]:
    if baseline is None:
        return [python(), "-c", HOLDING_EXPORT, *args]
    return [python(), "-c", BASELINE_MAIN, str(baseline), *args]


def _export_rows(path: Path, size: int, baseline: Path | None) -> list[Row]:
    rows = []
    for fmt in ("ndjson", "csv"):
        args = [
            "export",
            "--db",
            str(path),
            "--format",
            fmt,
            "-o",
            str(path.with_suffix(f".{fmt}")),
        ]
        ours = run_child([followup_command(), *args])
        # Above BASELINE_EXPORT_MAX the export before streaming would hold gigabytes: not run.
        before = (
            run_child(_baseline_command(baseline, args)) if size <= BASELINE_EXPORT_MAX else None
        )
        for child in (ours, before):
            if child is not None and child.returncode:
                raise RuntimeError(f"export {fmt} failed: {child.stderr[-500:]}")
        rows += _export_figures(f"10. Export {fmt}, {size:,} articles", size, ours, before)
    return rows


def _export_figures(name: str, size: int, ours: ChildRun, before: ChildRun | None) -> list[Row]:
    """Peak RSS, rows per CPU second and per wall second, beside the export before streaming."""
    figures = [
        ("peak RSS", lambda c: c.max_rss / 2**20, "{:.0f} MB", lambda v: v <= TARGET_RSS / 2**20),
        ("rows per CPU second (start-up included)", lambda c: size / c.cpu, "{:,.0f}", None),
        ("rows/s (wall: depends on the load)", lambda c: size / c.wall, "{:,.0f}", None),
    ]
    rows = []
    for label, value, form, met in figures:
        mine = value(ours)
        theirs = value(before) if before is not None else None
        rows.append(
            Row(
                f"{name}: {label}",
                form.format(mine),
                f"{form.format(theirs)} (before streaming)" if theirs else NOT_RUN,
                ratio(mine / theirs) if theirs else "—",
                met(mine) if met else mine >= TARGET_ROWS_PER_S,
            )
        )
    return rows


def _search_rows(path: Path, size: int) -> list[Row]:
    rows = []
    with open_readonly(path) as db:
        for length, term in TERMS.items():
            ours = median_time(partial(search_articles, db, term))
            how = search_articles(db, term).method
            # Beside the LIKE scan every term shorter than three characters took before m010,
            # and any term takes where the index cannot serve (the trigram index is gone).
            scan = partial(_like, db, [term], topic=None, limit=20, mark=("[", "]"))
            before = median_time(scan)
            rows.append(
                Row(
                    f"10. Search, {length} characters ({term}, {how}), {size:,} articles",
                    seconds(ours),
                    f"{seconds(before)} (LIKE scan)" if before is not None else "—",
                    ratio(ours / before) if before is not None else "—",
                    ours <= TARGET_SEARCH_S,
                )
            )
    return rows


def median_time(call: Callable[[], object]) -> float:
    """The median wall time of RUNS calls."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _details(size: int, rows: list[Row]) -> str:
    table = markdown_table(
        ["measurement", "followup", "before", "ratio"], [r.cells()[:4] for r in rows]
    )
    return (
        "## 10. Streaming readers and search\n\n"
        f"A store of {size:,} articles built by SQL (bench/serve.py's generator: texts of 100–200 "
        "characters). Export: the installed command beside main's code before streaming, each a "
        f"child measured by the kernel. Search: the median of {RUNS} runs in process.\n\n{table}\n"
    )
