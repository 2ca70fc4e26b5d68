"""Measurement 2: an unchanged re-crawl of the mirror — requests made and wall time.

One full `followup crawl` of the mirror into a database, then `runs` more crawls into the same
database while nothing in the mirror changes. Target: one request per feed or list, answered 304
(crawler/mirror.py honours If-None-Match and If-Modified-Since), and no article page fetched.
robots.txt, which Scrapy asks for once per host and crawl, is counted apart. The mirror's request
log is the witness, not the crawl's own figures.

Beside it, two other sides over the same unchanged mirror: the bare Scrapy spider of measurement
1, which keeps nothing and so fetches everything again, and followup against a server that sends
no validators (the mirror's feeds and lists served without ETag and Last-Modified), where every
list is parsed again and each entry is recognised as seen before any request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from bench.context import BenchError, ChildRun, Context
from bench.pipeline import Figures, bare_crawl, check_crawl, followup_crawl, requested_url
from bench.report import Row, markdown_table, megabytes, ratio, seconds
from crawler.mirror import Hit, Mirror

TARGET = "1 request per list URL (304), 0 article fetches"


@dataclass(frozen=True, slots=True)
class Requests:
    """What one crawl asked the mirror for, by kind."""

    lists: int  # feeds and lists
    not_modified: int  # of those, answered 304
    robots: int
    pages: int  # everything else: article pages

    @property
    def total(self) -> int:
        return self.lists + self.robots + self.pages

    def describe(self) -> str:
        answered = f" ({self.not_modified} × 304)" if self.not_modified else ""
        return (
            f"{self.total}: {self.lists} feeds and lists{answered}, {self.robots} robots.txt, "
            f"{self.pages} article pages"
        )

    def meets_target(self, list_urls: int) -> bool:
        return self.lists == list_urls and self.not_modified == list_urls and self.pages == 0


@dataclass(frozen=True, slots=True)
class Side:
    """The re-crawls of one side: each run measured, and the requests of each."""

    runs: list[ChildRun]
    requests: list[Requests]

    @property
    def figures(self) -> Figures:
        return Figures.of(self.runs)

    def describe_requests(self) -> str:
        """The last run's requests, and whether every run made the same."""
        totals = [r.total for r in self.requests]
        same = len(set(self.requests)) == 1
        return self.requests[-1].describe() + (
            "" if same else f" (runs differed: totals {', '.join(map(str, totals))})"
        )


def count_requests(hits: Sequence[Hit], list_urls: set[str]) -> Requests:
    """Sort the mirror's request log into feeds and lists, robots.txt and article pages."""
    lists = [hit for hit in hits if requested_url(hit) in list_urls]
    robots = [hit for hit in hits if hit.url.endswith("/robots.txt")]
    return Requests(
        lists=len(lists),
        not_modified=sum(hit.status == 304 for hit in lists),
        robots=len(robots),
        pages=len(hits) - len(lists) - len(robots),
    )


def measure_unchanged_recrawl(ctx: Context) -> list[Row]:
    """A full crawl, then `runs` unchanged re-crawls of each side, counted on the mirror's log."""
    seeds = ctx.plan.write_seeds(ctx.path("recrawl-seeds"), ctx.mirror)
    db = ctx.path("recrawl.db")
    plan_file = ctx.path("recrawl-bare-plan.json")
    plan_file.write_text(json.dumps(ctx.plan.local_plan(ctx.mirror)), encoding="utf-8")
    first = followup_crawl(ctx, seeds, db)
    check_crawl(ctx, first)
    conditional = _side(ctx, lambda: _recrawl(ctx, seeds, db))
    with _without_validators(ctx.mirror, ctx.plan.list_urls):
        # Last: without validators to keep, the crawl deletes the ones the lists had.
        unconditional = _side(ctx, lambda: _recrawl(ctx, seeds, db))
    bare = _side(ctx, lambda: _checked_bare(plan_file))
    ctx.sections.append(_details(ctx, first, conditional, unconditional, bare))
    return _rows(ctx, conditional, bare)


def _side(ctx: Context, crawl: Callable[[], ChildRun]) -> Side:
    list_urls = set(ctx.plan.list_urls)
    runs, requests = [], []
    for _ in range(ctx.options.runs):
        ctx.mirror.hits.clear()
        runs.append(crawl())
        requests.append(count_requests(list(ctx.mirror.hits), list_urls))
    return Side(runs, requests)


def _recrawl(ctx: Context, seeds: Path, db: Path) -> ChildRun:
    run = followup_crawl(ctx, seeds, db, fresh=False)
    if run.returncode != 0:
        raise BenchError(f"the re-crawl exited {run.returncode}: {run.stderr[-2000:]}")
    return run


def _checked_bare(plan_file: Path) -> ChildRun:
    run = bare_crawl(plan_file)
    if run.returncode != 0:
        raise BenchError(f"the bare spider exited {run.returncode}: {run.stderr[-2000:]}")
    return run


@contextmanager
def _without_validators(mirror: Mirror, urls: Sequence[str]) -> Iterator[None]:
    """Serve these pages without ETag and Last-Modified (so never 304) for a while."""
    pages = {url: mirror.get_page(url) for url in urls}
    try:
        for url, page in pages.items():
            mirror.set_page(url, replace(page, conditional=False))
        yield
    finally:
        for url, page in pages.items():
            mirror.set_page(url, page)


def _rows(ctx: Context, ours: Side, bare: Side) -> list[Row]:
    lists = len(ctx.plan.list_urls)
    met = all(r.meets_target(lists) for r in ours.requests)
    wall, bare_wall = ours.figures.wall, bare.figures.wall
    size = f"{lists} feeds and lists, {ctx.plan.articles} articles known"
    return [
        Row(
            f"2. Unchanged re-crawl: requests ({size})",
            ours.describe_requests(),
            f"bare Scrapy {bare.describe_requests()}",
            f"target: {TARGET}",
            met,
        ),
        Row(
            "2. Unchanged re-crawl: wall time (median)",
            seconds(wall),
            f"bare Scrapy {seconds(bare_wall)}",
            ratio(wall / bare_wall),
        ),
    ]


def _details(ctx: Context, first: ChildRun, ours: Side, ignoring: Side, bare: Side) -> str:
    sides = (ours, ignoring, bare)
    last = [side.requests[-1] for side in sides]
    figures = [side.figures for side in sides]
    rows = [
        ("requests (last run)", *(str(r.total) for r in last)),
        ("  feeds and lists", *(str(r.lists) for r in last)),
        ("    of which answered 304", *(str(r.not_modified) for r in last)),
        ("  robots.txt", *(str(r.robots) for r in last)),
        ("  article pages", *(str(r.pages) for r in last)),
        ("wall time (median)", *(seconds(f.wall) for f in figures)),
        ("CPU, user + sys (median)", *(seconds(f.cpu) for f in figures)),
        ("peak RSS (median)", *(megabytes(f.max_rss) for f in figures)),
    ]
    header = (
        "",
        "followup crawl",
        "followup crawl, server sending no validators",
        "bare Scrapy",
    )
    return "\n".join(
        [
            "## 2. Unchanged re-crawl",
            "",
            f"One full `followup crawl` of the mirror into a database ({seconds(first.wall)}, "
            f"{len(ctx.plan.list_urls)} feeds and lists, {ctx.plan.articles} articles), then "
            f"{ctx.options.runs} more into the same database with nothing changed. Requests are "
            "counted on the mirror's log; Scrapy asks each host for robots.txt once per crawl. "
            "Beside it, the same re-crawl against a server that sends no ETag or Last-Modified "
            "for its feeds and lists (each list parsed again, every entry known before any "
            "request), and the bare Scrapy spider of measurement 1, which keeps nothing and "
            f"fetches everything again. Medians of {ctx.options.runs} runs:",
            "",
            markdown_table(header, rows),
        ]
    )
