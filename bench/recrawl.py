"""Measurement 2: an unchanged re-crawl — requests made and wall time. Needs issue 4.

Target: one request per list URL (304 where the mirror supports it) and no article fetch. On this
branch followup has no conditional GET yet, so nothing honest can be measured; the stub says so.

To plug it in after issue 4 is merged, replace the body of `measure_unchanged_recrawl`: crawl
`ctx.plan.write_seeds(ctx.path("seeds"), ctx.mirror)` once into a database with
`bench.pipeline.followup_crawl`, clear `ctx.mirror.hits`, crawl again into the same database, and
count the hits (robots.txt, list URLs answered 304, article pages) against `ctx.plan.list_urls`.
"""

from __future__ import annotations

import sys

from bench.context import Context
from bench.report import NOT_MEASURED, Row, pending_row

MEASUREMENT = "2. Unchanged re-crawl (requests, wall time)"
TARGET = "1 request per list URL (304), 0 article fetches"


def measure_unchanged_recrawl(ctx: Context) -> list[Row]:
    """Stub until issue 4 (conditional GET) is merged: reports that nothing was measured."""
    print(f"{MEASUREMENT}: {NOT_MEASURED}", file=sys.stderr)
    return [pending_row(MEASUREMENT, TARGET)]
