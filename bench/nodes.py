"""Measurement 12: the mirror's sources crawled on 3 local Scrapyd nodes against 1 process.

One process: `followup crawl` of every source of the mirror (one Scrapy process crawling them
side by side). Three nodes: three Scrapyd servers on 127.0.0.1 (tests/services.py: the installed
project, `poll_interval` 0.2 s, `max_proc` 4 each), the sources spread over them round-robin
(`node = "n1"`…), and `followup daemon` scheduling one job per source, every source due at the
same moment (its source_state planned so, as after a restart: no start-up jitter). Wall time is
from that moment until every source's job has recorded its run; CPU is the daemon's and every
Scrapyd's, with the jobs they reaped (from the kernel). Both store into a fresh database; their
rows must be equal (articles, duplicates, and the URLs either holds), or the run is refused.

The nodes share this machine's cores with each other and with the mirror: the figure is the
cost of the mechanism (a process per job, Scrapyd's queue, the daemon's watch), not the
speed-up of nodes on machines of their own.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.context import BenchError, Context, Spawned, followup_command
from bench.daemon import _tail, run_watched
from bench.pipeline import CRAWL_SETTINGS, followup_crawl, setting_args
from bench.report import Row, seconds
from crawler.dates import utcnow
from crawler.state import SourceState, save_source_state
from crawler.store import Store
from tests.services import ScrapydServer, running_scrapyd

NODES = 3
# Polled once in the run: the next poll is an hour away.
ONCE = {"every": "1h", "min_every": "1h", "max_every": "1h"}
# Every source falls due this long after the daemon is started (its start-up fits in it).
DUE_AFTER = timedelta(seconds=3)
SAMPLE_INTERVAL = 0.1  # seconds
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Stored:
    """What a run stored: articles, duplicates, and every URL either holds."""

    articles: int
    duplicates: int
    urls: frozenset[str]


@dataclass(frozen=True, slots=True)
class NodesRun:
    """The daemon's run over the nodes: wall time from the due moment, CPU in all, jobs."""

    wall: float
    cpu: float
    jobs: int


def measure_nodes(ctx: Context) -> list[Row]:
    seeds = ctx.plan.write_seeds(ctx.path("nodes-seeds"), ctx.mirror, keys=ONCE)
    alone_db = ctx.path("nodes-alone.db")
    alone = followup_crawl(ctx, seeds, alone_db)
    if alone.returncode != 0:
        raise BenchError(f"followup crawl exited {alone.returncode}: {alone.stderr[-2000:]}")
    nodes_db = ctx.path("nodes.db")
    with ExitStack() as stack:
        servers = [stack.enter_context(running_scrapyd()) for _ in range(NODES)]
        spread_over_nodes(seeds, servers)
        run = run_daemon_on_nodes(ctx, seeds, nodes_db, servers)
    here, there = stored(alone_db), stored(nodes_db)
    if here != there:
        raise BenchError(
            f"the nodes stored {there.articles} articles and {there.duplicates} duplicates, one "
            f"process {here.articles} and {here.duplicates} (URLs differing: "
            f"{len(here.urls ^ there.urls)}): refused, the two runs must store the same rows"
        )
    sources = len(ctx.plan.sources)
    ctx.sections.append(_details(sources, alone.wall, alone.cpu, run, here))
    return [
        Row(
            f"12. {sources} sources: wall time",
            f"{seconds(run.wall)} ({NODES} Scrapyd nodes, {run.jobs} jobs)",
            f"{seconds(alone.wall)} (1 process)",
            f"{run.wall / alone.wall:.1f}× the one process's",
        ),
        Row(
            f"12. {sources} sources: CPU",
            f"{seconds(run.cpu)} ({NODES} Scrapyd nodes)",
            f"{seconds(alone.cpu)} (1 process)",
            f"{run.cpu / alone.cpu:.1f}×",
        ),
        Row(
            f"12. {sources} sources: rows stored",
            f"{there.articles} articles, {there.duplicates} duplicates",
            f"{here.articles} articles, {here.duplicates} duplicates",
            "equal (else the run is refused)",
            True,
        ),
    ]


def spread_over_nodes(seeds: Path, servers: list[ScrapydServer]) -> None:
    """nodes.toml naming the servers n1, n2…; each source on one of them, in turn."""
    nodes = "".join(
        f'[[node]]\nid = "n{n}"\nurl = "{server.url}"\n\n' for n, server in enumerate(servers, 1)
    )
    (seeds / "nodes.toml").write_text(nodes, encoding="utf-8")
    path = seeds / "sources.toml"
    entries = path.read_text(encoding="utf-8").split("[[source]]\n")[1:]
    placed = [f'[[source]]\nnode = "n{n % len(servers) + 1}"\n{e}' for n, e in enumerate(entries)]
    path.write_text("".join(placed), encoding="utf-8")


def run_daemon_on_nodes(
    ctx: Context, seeds: Path, db: Path, servers: list[ScrapydServer]
) -> NodesRun:
    """Start the daemon with every source due DUE_AFTER from now; stop it once each source's job
    has recorded its run."""
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    log = ctx.path("nodes-daemon.log")
    log.unlink(missing_ok=True)
    sources = [source.id for source in ctx.plan.sources]
    due = plan_all_due(db, sources)
    nodes_cpu = sum(scrapyd_cpu(server) for server in servers)
    command = [
        *(followup_command(), "daemon", "--seeds", str(seeds), "--db", str(db)),
        *("--log-file", str(log), *setting_args(CRAWL_SETTINGS)),
    ]
    wall, usage = run_watched(
        command, log, lambda daemon, _: _wait_recorded(daemon, db, len(sources), due, log)
    )
    nodes_cpu = sum(scrapyd_cpu(server) for server in servers) - nodes_cpu
    return NodesRun(wall=wall, cpu=usage.cpu + nodes_cpu, jobs=len(recorded_jobs(db)))


def _wait_recorded(daemon: Spawned, db: Path, count: int, due: float, log: Path) -> float:
    """Seconds from the due moment until `count` jobs have recorded their runs."""
    deadline = time.monotonic() + 600 + 30 * count
    while (done := len(recorded_jobs(db))) < count:
        if not daemon.running() or time.monotonic() > deadline:
            raise BenchError(f"only {done} of {count} node jobs recorded: {_tail(log)}")
        time.sleep(SAMPLE_INTERVAL)
    return time.monotonic() - due


def plan_all_due(db: Path, sources: list[str]) -> float:
    """Every source's next run DUE_AFTER from now (kept by the daemon: it is in the future);
    that moment on the monotonic clock."""
    store = Store.open(db)
    try:
        when = utcnow() + DUE_AFTER
        for source in sources:
            save_source_state(store.db, SourceState(source, timedelta(hours=1), next_run_at=when))
    finally:
        store.close()
    return time.monotonic() + DUE_AFTER.total_seconds()


def recorded_jobs(db: Path) -> list[str]:
    """The Scrapyd jobs that have recorded a finished run."""
    with closing(sqlite3.connect(db, timeout=10)) as connection:
        rows = connection.execute(
            "SELECT job FROM crawl_runs WHERE job IS NOT NULL AND stats IS NOT NULL"
        ).fetchall()
    return [job for (job,) in rows]


def scrapyd_cpu(server: ScrapydServer) -> float:
    """Seconds of CPU a Scrapyd has used, with the jobs it has reaped (/proc, Linux)."""
    pid = int((server.directory / "scrapyd.pid").read_text().strip())
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the command name.
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def stored(db: Path) -> Stored:
    with closing(sqlite3.connect(db, timeout=10)) as connection:
        articles = [url for (url,) in connection.execute("SELECT url FROM articles")]
        duplicates = [url for (url,) in connection.execute("SELECT url FROM duplicates")]
    return Stored(len(articles), len(duplicates), frozenset([*articles, *duplicates]))


def _details(sources: int, wall: float, cpu: float, run: NodesRun, rows: Stored) -> str:
    return "\n".join(
        [
            f"## 12. Crawl nodes: {NODES} local Scrapyd nodes against 1 process",
            "",
            f"The mirror's {sources} sources, crawled once each into a fresh database.",
            "",
            "| side | wall time | CPU in all | articles | duplicates |",
            "|---|---|---|---|---|",
            f"| 1 process (`followup crawl`) | {seconds(wall)} | {seconds(cpu)} "
            f"| {rows.articles} | {rows.duplicates} |",
            f"| {NODES} Scrapyd nodes, `followup daemon`, {run.jobs} jobs | {seconds(run.wall)} "
            f"| {seconds(run.cpu)} | {rows.articles} | {rows.duplicates} |",
            "",
            "Both stored the same rows (the run is refused otherwise). The nodes run on this "
            "machine, so their wall time measures the mechanism — one Scrapy process per job "
            "started by Scrapyd, its queue polled every 0.2 s, the daemon watching each job — "
            "not nodes on machines of their own. CPU of the nodes: the daemon and each Scrapyd "
            "with the jobs it reaped, from the kernel.",
        ]
    )
