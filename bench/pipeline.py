"""Measurement 1: `followup crawl` of the mirror into a fresh database vs bare Scrapy.

Both run as child processes of this one, with the same Scrapy settings for a local server
(AutoThrottle off, no delay, 16 concurrent requests), and the mirror's request log must show both
fetched exactly the same URLs (robots.txt, feeds and lists, article pages) or the run is refused.
Wall time, CPU (user + system) and peak RSS of each child alone (bench/spawn.py) are the medians
of `runs` runs. A crawl of a feed with no items measures each side's start-up (imports, reactor,
shutdown), so the per-article cost is also given without it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench import profile
from bench.context import BenchError, ChildRun, Context, followup_command, python, run_child
from bench.report import Row, markdown_table, median, megabytes, ratio, seconds
from crawler.fingerprint import NEAR_DISTANCE
from crawler.mirror import Hit, Page

# A local server needs no politeness; concurrency high enough that the client is the bottleneck.
CRAWL_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "CONCURRENT_REQUESTS": "16",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "LOG_LEVEL": "WARNING",
}
# Issue 16: a crawl's CPU per article (its start-up included: every crawl pays it) at most this
# many times bare Scrapy's over the same URLs.
TARGET_RATIO = 1.8
SCRAPY_DEFAULT_ITEMS = {"CONCURRENT_ITEMS": "100"}
EMPTY_FEED_URL = "https://empty.example.com/feed"
EMPTY_FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>empty</title>'
    b"<link>https://empty.example.com/</link><description>no items</description></channel></rss>\n"
)
SUMMARY_KEYS = ("new", "duplicates", "irrelevant", "already_seen", "blocked", "failed")


@dataclass(frozen=True, slots=True)
class Figures:
    """Medians over runs of one side."""

    wall: float
    cpu: float
    max_rss: float

    @classmethod
    def of(cls, runs: list[ChildRun]) -> Figures:
        return cls(
            median([r.wall for r in runs]),
            median([r.cpu for r in runs]),
            median([r.max_rss for r in runs]),
        )


def setting_args(settings: dict[str, str] = CRAWL_SETTINGS) -> list[str]:
    return [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]


def followup_crawl(
    ctx: Context, seeds: Path, db: Path, *, fresh: bool = True, profile_to: Path | None = None
) -> ChildRun:
    """`followup crawl` into a fresh database, or into db as it is when not `fresh` (profiled:
    the same via `python -m cProfile`)."""
    for suffix in ("", "-wal", "-shm") if fresh else ():
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    arguments = ["crawl", "--seeds", str(seeds), "--db", str(db), "--json", *setting_args()]
    if profile_to is None:
        return run_child([followup_command(), *arguments])
    return run_child(
        [python(), "-m", "cProfile", "-o", str(profile_to), "-m", "crawler", *arguments]
    )


def bare_crawl(
    plan_file: Path, *, profile_to: Path | None = None, extra: dict[str, str] | None = None
) -> ChildRun:
    """The bare spider over the same URLs (extra: settings on top of both sides' own)."""
    arguments = [
        "-m",
        "bench.bare",
        str(plan_file),
        *setting_args({**CRAWL_SETTINGS, **(extra or {})}),
    ]
    if profile_to is None:
        return run_child([python(), *arguments])
    return run_child([python(), "-m", "cProfile", "-o", str(profile_to), *arguments])


def measure_pipeline(ctx: Context) -> list[Row]:
    """Run both sides `runs` times over the mirror (and once each over an empty feed)."""
    seeds = ctx.plan.write_seeds(ctx.path("seeds"), ctx.mirror)
    plan_file = ctx.path("bare-plan.json")
    plan_file.write_text(json.dumps(ctx.plan.local_plan(ctx.mirror)), encoding="utf-8")
    empty_seeds, empty_plan = _empty_crawl_inputs(ctx)
    followup_runs, bare_runs, summaries = [], [], []
    for _ in range(ctx.options.runs):
        ctx.mirror.hits.clear()
        run = followup_crawl(ctx, seeds, ctx.path("bench.db"))
        summaries.append(check_crawl(ctx, run))
        followup_hits = _requested(ctx.mirror.hits)
        ctx.mirror.hits.clear()
        bare = bare_crawl(plan_file)
        check_same_requests(followup_hits, _requested(ctx.mirror.hits), bare)
        followup_runs.append(run)
        bare_runs.append(bare)
    requests = sum(followup_hits.values())
    # followup sets CONCURRENT_ITEMS = 1 and the baseline inherits it; Scrapy's own default
    # (100 asyncio tasks for every response with output) is shown beside it.
    default_items = Figures.of(
        [bare_crawl(plan_file, extra=SCRAPY_DEFAULT_ITEMS) for _ in followup_runs]
    )
    startup_followup = followup_crawl(ctx, empty_seeds, ctx.path("empty.db"))
    startup_bare = bare_crawl(empty_plan)
    for run in (startup_followup, startup_bare):
        if run.returncode != 0:
            raise BenchError(f"the empty crawl failed ({run.returncode}): {run.stderr[-2000:]}")
    ours, theirs = Figures.of(followup_runs), Figures.of(bare_runs)
    ctx.sections.append(
        _details(ctx, summaries[-1], requests, ours, theirs, startup_followup, startup_bare)
    )
    if ctx.options.profile:
        ctx.sections.append(profile_section(ctx, seeds, plan_file, ours, theirs))
    return [
        *_rows(ctx, ours, theirs, startup_followup.cpu, startup_bare.cpu, requests),
        _default_items_row(ctx, ours, default_items),
    ]


def _empty_crawl_inputs(ctx: Context) -> tuple[Path, Path]:
    ctx.mirror.set_page(EMPTY_FEED_URL, Page(EMPTY_FEED, "application/rss+xml; charset=utf-8"))
    url = ctx.mirror.url_for(EMPTY_FEED_URL)
    seeds = ctx.path("empty-seeds")
    seeds.mkdir(exist_ok=True)
    (seeds / "sources.toml").write_text(
        f'[[source]]\nid = "empty"\nname = "empty"\nsite = "generic"\nfeeds = ["{url}"]\n',
        encoding="utf-8",
    )
    (seeds / "topics.toml").write_text(
        (ctx.path("seeds") / "topics.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    plan = ctx.path("empty-plan.json")
    plan.write_text(json.dumps({url: []}), encoding="utf-8")
    return seeds, plan


def check_crawl(ctx: Context, run: ChildRun) -> dict[str, int]:
    """The crawl's per-source figures summed; refuses a run that did not read every article."""
    if run.returncode != 0:
        raise BenchError(f"followup crawl exited {run.returncode}: {run.stderr[-2000:]}")
    sources = json.loads(run.stdout)["sources"]
    totals = {
        key: sum(s.get(key, 0) for s in sources.values())
        for key in (*SUMMARY_KEYS, "entries", "lists_failed")
    }
    if totals["entries"] != ctx.plan.articles or totals["lists_failed"]:
        raise BenchError(
            f"the crawl read {totals['entries']} of {ctx.plan.articles} entries: {totals}"
        )
    if totals["blocked"] or totals["failed"]:
        raise BenchError(
            f"pages of the mirror were blocked or failed: {totals}; stderr: {run.stderr[-2000:]}"
        )
    return totals


def requested_url(hit: Hit) -> str:
    """The URL a request was for, without its query: followup adds a random cache-buster to
    caijing's roll (`?time=…`) that the bare spider has no reason to copy."""
    return hit.url.split("?", 1)[0]


def _requested(hits: Iterable[Hit]) -> Counter[str]:
    return Counter(map(requested_url, hits))


def check_same_requests(followup: Counter[str], bare: Counter[str], run: ChildRun) -> None:
    if run.returncode != 0:
        raise BenchError(f"the bare spider exited {run.returncode}: {run.stderr[-2000:]}")
    if followup != bare:
        only_followup = list((followup - bare).elements())[:5]
        only_bare = list((bare - followup).elements())[:5]
        raise BenchError(
            f"the bare spider fetched other URLs than followup: only followup {only_followup}, "
            f"only bare {only_bare}"
        )


def _rows(
    ctx: Context,
    ours: Figures,
    theirs: Figures,
    startup_ours: float,
    startup_theirs: float,
    requests: int,
) -> list[Row]:
    articles = ctx.plan.articles
    per, per_bare = ours.cpu / articles, theirs.cpu / articles
    net, net_bare = (ours.cpu - startup_ours) / articles, (theirs.cpu - startup_theirs) / articles
    ctx.crawl_cpu_per_article = net if net > 0 else per
    size = f"{articles} articles, {requests} requests"
    return [
        Row(
            f"1. Crawl wall time ({size})",
            seconds(ours.wall),
            f"bare Scrapy {seconds(theirs.wall)}",
            ratio(ours.wall / theirs.wall),
        ),
        Row(
            "1. CPU per article (user + sys, start-up included)",
            seconds(per),
            f"bare Scrapy {seconds(per_bare)}",
            f"{ratio(per / per_bare)} (target ≤ {TARGET_RATIO}×)",
            per / per_bare <= TARGET_RATIO,
        ),
        _net_row(net, net_bare),
        Row(
            "1. Peak RSS of the crawl",
            megabytes(ours.max_rss),
            f"bare Scrapy {megabytes(theirs.max_rss)}",
            ratio(ours.max_rss / theirs.max_rss),
        ),
    ]


def _default_items_row(ctx: Context, ours: Figures, default_items: Figures) -> Row:
    per, per_bare = ours.cpu / ctx.plan.articles, default_items.cpu / ctx.plan.articles
    return Row(
        "1. CPU per article, baseline with Scrapy's default CONCURRENT_ITEMS (100)",
        seconds(per),
        f"bare Scrapy {seconds(per_bare)}",
        f"{ratio(per / per_bare)} (for reference)",
    )


def _net_row(net: float, net_bare: float) -> Row:
    """CPU per article without start-up; at tiny sizes start-up is all there is to see."""
    label = "1. CPU per article, start-up excluded"
    if net <= 0 or net_bare <= 0:
        return Row(label, "start-up dominates at this size", "—", "—")
    return Row(
        label,
        seconds(net),
        f"bare Scrapy {seconds(net_bare)}",
        f"{ratio(net / net_bare)} (for reference)",
    )


def _details(
    ctx: Context,
    totals: dict[str, int],
    requests: int,
    ours: Figures,
    theirs: Figures,
    startup_ours: ChildRun,
    startup_theirs: ChildRun,
) -> str:
    plan = ctx.plan
    sizes = sorted(plan.page_sizes)
    kinds = Counter(s.kind for s in plan.sources)
    rows = [
        ("wall time (median)", seconds(ours.wall), seconds(theirs.wall)),
        ("CPU, user + sys (median)", seconds(ours.cpu), seconds(theirs.cpu)),
        ("peak RSS (median)", megabytes(ours.max_rss), megabytes(theirs.max_rss)),
        (
            "start-up: CPU of a crawl of one empty feed",
            seconds(startup_ours.cpu),
            seconds(startup_theirs.cpu),
        ),
        ("start-up: wall time", seconds(startup_ours.wall), seconds(startup_theirs.wall)),
    ]
    return "\n".join(
        [
            "## 1. Full pipeline vs bare Scrapy",
            "",
            f"The mirror: {len(plan.sources)} sources ({', '.join(f'{n} × {k}' for k, n in sorted(kinds.items()))}) × "
            f"{plan.spec.articles} articles = {plan.articles} articles; {plan.on_topic} on the default topic, "
            f"{plan.reposts} reposts of another source's article (of which {plan.expected_duplicates} on-topic "
            f"reposts within {NEAR_DISTANCE} bits of their original). Each crawl made {requests} requests: "
            f"{len(plan.list_urls)} feeds and lists, {len(plan.page_urls)} article pages (36kr's full-text feed "
            f"needs none for most of its items), the rest robots.txt. Article pages weigh "
            f"{sizes[0] / 1e3:.0f}–{sizes[-1] / 1e3:.0f} KB, median {sizes[len(sizes) // 2] / 1e3:.0f} KB.",
            "",
            f"What followup made of it (last run): {totals['new']} stored, {totals['duplicates']} duplicates "
            f"(expected {plan.expected_duplicates}), {totals['irrelevant']} unrelated, {totals['blocked']} blocked, "
            f"{totals['failed']} failed. The baseline fetched exactly the same URLs (checked on the mirror's "
            f"request log every run). Medians of {ctx.options.runs} runs:",
            "",
            markdown_table(("", "followup crawl", "bare Scrapy"), rows),
        ]
    )


def profile_section(
    ctx: Context, seeds: Path, plan_file: Path, ours: Figures, theirs: Figures
) -> str:
    """One more crawl of each side under cProfile, grouped into where the CPU goes."""
    ours_profile, bare_profile = ctx.path("followup.prof"), ctx.path("bare.prof")
    run = followup_crawl(ctx, seeds, ctx.path("profiled.db"), profile_to=ours_profile)
    check_crawl(ctx, run)
    bare = bare_crawl(plan_file, profile_to=bare_profile)
    if bare.returncode != 0:
        raise BenchError(
            f"the profiled bare spider exited {bare.returncode}: {bare.stderr[-2000:]}"
        )
    return profile.report(
        ours_profile,
        bare_profile,
        articles=ctx.plan.articles,
        unprofiled_cpu=(ours.cpu, theirs.cpu),
        profiled_cpu=(run.cpu, bare.cpu),
    )
