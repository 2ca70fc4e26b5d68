"""Measurement 11: `followup crawl` of the mirror into SQLite and into PostgreSQL, in one run.

Both sides are the same installed command over the same mirror, each into a fresh store,
interleaved run by run so that the machine's load falls on both alike. PostgreSQL is a real
server from the system packages (tests/services.py starts it on 127.0.0.1 in a temporary
directory). Its work is part of the cost: the CPU of the server processes that served the
crawl is read from the postmaster's reaped-children times (each session's backend exits
when the crawl closes its connection), and added to the crawl's own.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.context import BenchError, ChildRun, Context, followup_command, run_child
from bench.pipeline import check_crawl, setting_args
from bench.report import Row, markdown_table, median, ratio, seconds

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def server_cpu(data: Path) -> float:
    """CPU seconds of the postmaster's ended children (its backends), from /proc."""
    pid = int((data / "postmaster.pid").read_text(encoding="utf-8").split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    cutime, cstime = int(fields[13]), int(fields[14])  # fields 16 and 17 of proc(5)
    return (cutime + cstime) / CLOCK_TICKS


def crawl_into(seeds: Path, db: str) -> ChildRun:
    arguments = ["crawl", "--seeds", str(seeds), "--db", db, "--json", *setting_args()]
    return run_child([followup_command(), *arguments])


def measure_postgres(ctx: Context) -> list[Row]:
    """SQLite and PostgreSQL crawls, `runs` of each, interleaved."""
    from tests.services import ServiceUnavailable, running_postgres

    seeds = ctx.plan.write_seeds(ctx.path("seeds"), ctx.mirror)
    try:
        with running_postgres() as server:
            return _measure(ctx, seeds, server)
    except ServiceUnavailable as exc:
        raise BenchError(f"measurement 11 needs PostgreSQL: {exc}") from None


def _measure(ctx: Context, seeds: Path, server: object) -> list[Row]:
    import psycopg

    url_of, data = server.url, server.directory / "data"  # type: ignore[attr-defined]
    sqlite_runs, pg_runs, pg_server = [], [], []
    for number in range(ctx.options.runs):
        path = ctx.path("pg-bench.db")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        sqlite_runs.append(crawl_into(seeds, str(path)))
        name = f"bench_{number}"
        with psycopg.connect(url_of(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        before = server_cpu(data)
        pg_runs.append(crawl_into(seeds, url_of(name)))
        pg_server.append(server_cpu(data) - before)
        if check_crawl(ctx, sqlite_runs[-1]) != check_crawl(ctx, pg_runs[-1]):
            raise BenchError("the PostgreSQL crawl stored other figures than the SQLite one")
    articles = ctx.plan.articles
    lite = median([r.cpu for r in sqlite_runs]) / articles
    client = median([r.cpu for r in pg_runs]) / articles
    total = median([r.cpu + s for r, s in zip(pg_runs, pg_server, strict=True)]) / articles
    lite_wall, pg_wall = median([r.wall for r in sqlite_runs]), median([r.wall for r in pg_runs])
    ctx.sections.append(_details(ctx, lite, client, total, lite_wall, pg_wall))
    return [
        Row(
            "11. Crawl CPU per article, PostgreSQL (crawl + server)",
            seconds(total),
            f"SQLite {seconds(lite)}",
            f"{ratio(total / lite)} (for reference)",
        ),
        Row(
            "11. Crawl CPU per article, PostgreSQL (crawl process only)",
            seconds(client),
            f"SQLite {seconds(lite)}",
            f"{ratio(client / lite)} (for reference)",
        ),
        Row(
            f"11. Crawl wall time, PostgreSQL ({articles} articles)",
            seconds(pg_wall),
            f"SQLite {seconds(lite_wall)}",
            ratio(pg_wall / lite_wall),
        ),
    ]


def _details(
    ctx: Context, lite: float, client: float, total: float, lite_wall: float, pg_wall: float
) -> str:
    rows = [
        ("CPU per article, crawl process", seconds(lite), seconds(client)),
        ("CPU per article, with the server's", seconds(lite), seconds(total)),
        ("wall time of the crawl", seconds(lite_wall), seconds(pg_wall)),
    ]
    return "\n".join(
        [
            "## 11. The crawl into PostgreSQL vs SQLite",
            "",
            f"The same `followup crawl` of the mirror ({ctx.plan.articles} articles), into a new "
            "SQLite file and into a new database of a local PostgreSQL server (system packages, "
            f"127.0.0.1), interleaved; medians of {ctx.options.runs} runs each. The server's CPU "
            "is that of the backends that served the crawl (the postmaster's reaped children); "
            "its background writers are not counted. Both stored the same figures (checked).",
            "",
            markdown_table(("", "SQLite", "PostgreSQL"), rows),
        ]
    )
