"""followup's benchmark, one command from the repository root:

    .venv/bin/python -m bench            # full run, writes docs/benchmarks.md (~5 min, 2 cores)
    .venv/bin/python -m bench --quick    # tiny smoke run (CI), writes nothing unless --out
    .venv/bin/python -m bench --only 2,5 # some of the measurements, writes nothing unless --out

It generates a mirror of N sources × M articles in four real sites' structures (bench/mirrorgen.py),
serves it on 127.0.0.1 with crawler.mirror, and measures, each as a median of several runs:
(1) `followup crawl` against a bare Scrapy spider fetching the same URLs, (2) an unchanged
re-crawl against the bare spider fetching everything again, (3) the near-duplicate index at 10k,
100k and 1M fingerprints against simhash.SimhashIndex and linear scans, (4) the fingerprint of a
5,000-character article against simhash.Simhash, (5) the daemon's RSS after 200 crawls, (6)
near-duplicates beyond simhash (bench/neardup.py: recall per repost kind, the lookup with the
second tier, the cost per related article, each beside the decision before it), (7)
`followup serve` on a store of 1M articles against plain datasette and sqlite3, (8) the daemon's
CPU per poll and memory with worker processes against a child process per poll, (9) page
extraction per site against the whole-document extractors of an earlier commit, (10) export and
search on a store of `--serve-articles` articles beside the code before streaming and the
bigram index, (11) the crawl into PostgreSQL against the same crawl into SQLite (a local
server from the system packages), (12) the sources crawled as jobs on 3 local Scrapyd nodes
against one process, (14) what a crawl and `followup status` read on the store of (10)
beside the code before m013_scale; and profiles the crawl. `--real DIR` adds real texts to (6), read from DIR at run
time; `--only 7` runs the serve
measurement alone.
The table goes to stdout and, with the machine and the parameters, to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench.context import REPO, Context, Options
from bench.daemon import measure_daemon_rss
from bench.extraction import measure_extraction
from bench.fingerprints import measure_fingerprint
from bench.index import measure_index
from bench.mirrorgen import MirrorSpec, generate_mirror
from bench.neardup import measure_neardup
from bench.nodes import measure_nodes
from bench.pipeline import CRAWL_SETTINGS, measure_pipeline
from bench.postgres import measure_postgres
from bench.readers import measure_readers
from bench.recrawl import measure_unchanged_recrawl
from bench.report import Row, definition_list, load_average, machine, results_table
from bench.scale import measure_scale
from bench.serve import measure_serve
from bench.workers import measure_daemon_workers
from crawler.mirror import Mirror

# The measurements by number, in the order of the table. Each takes the context and returns its
# rows.
MEASUREMENTS: dict[int, Callable[[Context], list[Row]]] = {
    1: measure_pipeline,
    2: measure_unchanged_recrawl,
    3: measure_index,
    4: measure_fingerprint,
    5: measure_daemon_rss,
    6: measure_neardup,
    7: measure_serve,
    8: measure_daemon_workers,
    9: measure_extraction,
    10: measure_readers,
    11: measure_postgres,
    12: measure_nodes,
    14: measure_scale,
}
DOCS = REPO / "docs" / "benchmarks.md"
QUICK = Options(
    sources=4,
    articles=5,
    runs=1,
    index_sizes=(1_000, 5_000),
    lookups=200,
    daemon_cycles=10,
    serve_articles=2_000,
    quick=True,
    profile=False,
)


def parse_options(argv: Sequence[str] | None) -> tuple[Options, Path | None, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="followup's benchmark (see bench/run.py and docs/benchmarks.md).",
    )
    default = Options()
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, one run: a smoke test for CI"
    )
    parser.add_argument(
        "--sources", type=int, help=f"sources in the mirror (default {default.sources})"
    )
    parser.add_argument(
        "--articles", type=int, help=f"articles per source (default {default.articles})"
    )
    parser.add_argument(
        "--runs",
        type=int,
        help=f"crawls of each side; medians are reported (default {default.runs})",
    )
    parser.add_argument(
        "--seed", type=int, help=f"seed of every generator (default {default.seed})"
    )
    parser.add_argument(
        "--index-sizes", help="stored fingerprints, comma-separated (default 10000,100000,1000000)"
    )
    parser.add_argument(
        "--lookups", type=int, help=f"index lookups per structure (default {default.lookups})"
    )
    parser.add_argument(
        "--daemon-cycles",
        type=int,
        help=f"crawls the daemon runs in measurement 5 (default {default.daemon_cycles})",
    )
    parser.add_argument(
        "--serve-articles",
        type=int,
        help=f"articles in the store `followup serve` is timed on (default {default.serve_articles:,})",
    )
    parser.add_argument(
        "--only",
        help="run only these measurements, comma-separated numbers (default: all)",
    )
    parser.add_argument(
        "--real",
        type=Path,
        help="measurement 6 also on real texts: a directory of RSS .xml and # title .txt files",
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="profile the crawl (default: on unless --quick)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"Markdown report (default {DOCS.relative_to(REPO)}; none with --quick)",
    )
    parser.add_argument(
        "--keep", type=Path, help="generate the mirror into this directory and keep it"
    )
    args = parser.parse_args(argv)
    if args.real is not None and not args.real.is_dir():
        parser.error(
            f"--real {args.real}: not a directory; name one holding RSS .xml files or .txt articles"
        )
    base = QUICK if args.quick else default
    changes = {
        "sources": args.sources,
        "articles": args.articles,
        "runs": args.runs,
        "seed": args.seed,
        "lookups": args.lookups,
        "profile": args.profile,
        "daemon_cycles": args.daemon_cycles,
        "real": args.real,
        "serve_articles": args.serve_articles,
        "only": _numbers(parser, args.only) if args.only else None,
        "index_sizes": tuple(int(s) for s in args.index_sizes.split(","))
        if args.index_sizes
        else None,
    }
    options = Options(**{**asdict(base), **{k: v for k, v in changes.items() if v is not None}})
    counts = (
        options.sources,
        options.articles,
        options.runs,
        options.lookups,
        options.daemon_cycles,
        options.serve_articles,
        *options.index_sizes,
    )
    if min(counts) < 1:
        parser.error(
            "--sources, --articles, --runs, --lookups, --daemon-cycles, --serve-articles and "
            "--index-sizes must be "
            "at least 1"
        )
    # docs/benchmarks.md holds one whole run: a partial or quick one goes there only when asked.
    partial = args.quick or set(MEASUREMENTS) - set(options.only)
    out = args.out if args.out is not None else (None if partial else DOCS)
    return options, out, args.keep


def _numbers(parser: argparse.ArgumentParser, text: str) -> tuple[int, ...]:
    """--only 2,5 → (2, 5), each a measurement's number."""
    try:
        numbers = tuple(sorted({int(part) for part in text.split(",")}))
    except ValueError:
        numbers = ()
    if not numbers or not set(numbers) <= set(MEASUREMENTS):
        known = ", ".join(map(str, MEASUREMENTS))
        parser.error(f"--only takes measurement numbers ({known}), like 2,5")
    return numbers


def run(options: Options, workdir: Path, mirror_dir: Path) -> tuple[list[Row], Context]:
    spec = MirrorSpec(sources=options.sources, articles=options.articles, seed=options.seed)
    started = time.perf_counter()
    plan = generate_mirror(mirror_dir, spec)
    _say(
        f"mirror: {plan.articles} articles, {len(plan.page_urls)} pages to fetch ({time.perf_counter() - started:.1f} s)"
    )
    rows: list[Row] = []
    with Mirror.from_directory(mirror_dir) as mirror:
        ctx = Context(options, workdir, mirror, plan)
        for number, measure in MEASUREMENTS.items():
            if number not in options.only:
                continue
            started = time.perf_counter()
            rows += measure(ctx)
            _say(f"{measure.__name__}: {time.perf_counter() - started:.1f} s")
    return rows, ctx


def document(rows: list[Row], ctx: Context, loads: tuple[str, str]) -> str:
    """docs/benchmarks.md: the table, the machine, the parameters, each measurement's details."""
    options, spec = ctx.options, ctx.plan.spec
    parameters = {
        "mirror": f"{spec.sources} sources × {spec.articles} articles (seed {spec.seed}); {spec.on_topic:.0%} on the "
        f"default topic, {spec.reposts:.0%} reposts across sources, {spec.short_36kr:.0%} of 36kr items with a summary-only "
        f"feed entry; article pages {spec.min_page_bytes // 1000}–{spec.max_page_bytes // 1000} KB",
        "crawl settings (both sides)": ", ".join(f"{k}={v}" for k, v in CRAWL_SETTINGS.items())
        + "; the rest of crawler/settings.py (robots.txt obeyed)",
        "runs": f"{options.runs} crawls of each side (medians)",
        "index": f"{', '.join(f'{s:,}' for s in options.index_sizes)} stored fingerprints, {options.lookups} lookups and 200 inserts each",
        "daemon": f"until {options.daemon_cycles} crawls finished",
        "serve": f"a store of {options.serve_articles:,} articles built by SQL",
    }
    command = "python -m bench" + (" --quick" if options.quick else "")
    if set(MEASUREMENTS) - set(options.only):
        command += " --only " + ",".join(map(str, options.only))
    return "\n".join(
        [
            "# Benchmarks",
            "",
            f"Written by `{command}` (bench/run.py) on {datetime.now(UTC):%Y-%m-%d}. Every figure below comes from "
            "that one run.",
            "",
            results_table(rows),
            "",
            "## Machine",
            "",
            definition_list(
                {
                    **machine(),
                    "load average (1 / 5 / 15 min)": f"{loads[0]} at the start, {loads[1]} at the end",
                }
            ),
            "",
            "## Parameters",
            "",
            definition_list(parameters),
            "",
            *[section + "\n" for section in ctx.sections],
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    options, out, keep = parse_options(argv)
    load_at_start = load_average()
    with tempfile.TemporaryDirectory(prefix="followup-bench-") as scratch:
        workdir = keep if keep is not None else Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        rows, ctx = run(options, workdir, workdir / "mirror")
        print(results_table(rows))
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(document(rows, ctx, (load_at_start, load_average())), encoding="utf-8")
            _say(f"wrote {out}")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
