"""Measurement 5: the daemon's RSS after 200 short cycles against the mirror. Needs issue 4.

Target: growth ≤ 5 MB. On this branch there is no `followup daemon`, so nothing honest can be
measured; the stub says so.

To plug it in after issue 4 is merged, replace the body of `measure_daemon_rss`: start the daemon
as a child process on seeds from `ctx.plan.write_seeds(...)` with second-scale intervals, read its
RSS (/proc/<pid>/statm) after a warm-up cycle and after 200 cycles (counted on `ctx.mirror.hits`
or in `crawl_runs`), stop it with one SIGTERM, and report the growth.
"""

from __future__ import annotations

import sys

from bench.context import Context
from bench.report import NOT_MEASURED, Row, pending_row

MEASUREMENT = "5. Daemon RSS after 200 short cycles"
TARGET = "growth ≤ 5 MB"


def measure_daemon_rss(ctx: Context) -> list[Row]:
    """Stub until issue 4 (the daemon) is merged: reports that nothing was measured."""
    print(f"{MEASUREMENT}: {NOT_MEASURED}", file=sys.stderr)
    return [pending_row(MEASUREMENT, TARGET)]
