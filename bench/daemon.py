"""Measurement 5: the daemon's memory over many short cycles against the mirror.

`followup daemon` polls one source of each kind in the mirror and a feed answering 500, each
every second (`every`, `min_every` and `max_every` pinned to 1 s), until `daemon_cycles` crawls
have finished (rows of crawl_runs). Each source's first crawl reads its articles; every later one
is answered 304. The daemon is started through bench/spawn.py, so what the kernel reports for it
is its own, not this process's (which serves the mirror). Sampled through /proc (Linux) every
20 ms: the daemon's RSS, threads and open files, and each crawl child's peak RSS (VmHWM, which
exec resets). Target: the daemon's RSS grows by at most 5 MB from its first crawl to the last.

`python -m bench --quick --only 5 --daemon-cycles 500` runs this alone, for longer.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bench.context import (
    BenchError,
    ChildRun,
    Context,
    Spawned,
    child_pids,
    followup_command,
    start_child,
)
from bench.mirrorgen import SourcePlan
from bench.pipeline import CRAWL_SETTINGS, setting_args
from bench.report import Row, markdown_table, megabytes, seconds
from crawler.mirror import Page

T = TypeVar("T")
TARGET_GROWTH = 5e6  # bytes
SCHEDULE = {"every": "1s", "min_every": "1s", "max_every": "1s"}
# The failing source's crawl retries once, briefly, instead of twice after 2 s and 4 s.
DAEMON_SETTINGS = {**CRAWL_SETTINGS, "RETRY_TIMES": "1", "FOLLOWUP_RETRY_BACKOFF": "0.2"}
BROKEN_FEED_URL = "https://broken.example.com/feed"
SAMPLE_INTERVAL = 0.02  # seconds
STOP_TIMEOUT = 120.0  # seconds for the daemon to stop after its SIGTERM
# Seconds (plus 5 a crawl) before a run that has not finished its crawls is called hung: a guard,
# not a budget — a machine loaded by other work runs the same crawls many times slower.
HUNG_AFTER = 300.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Sample:
    """The daemon after some crawls had finished."""

    crawls: int
    rss: int  # bytes
    threads: int
    open_files: int


@dataclass(frozen=True, slots=True)
class Watch:
    """What was seen while the daemon ran, read just before it was stopped."""

    samples: list[Sample]
    peak: int  # the daemon's VmHWM, bytes
    own_cpu: float  # the daemon's user + system seconds
    children_cpu: float  # of the crawl children it had reaped
    reaped: int
    child_peaks: list[int]  # each crawl child's VmHWM, bytes
    elapsed: float


def measure_daemon_rss(ctx: Context) -> list[Row]:
    """Run the daemon until `daemon_cycles` crawls finished; its RSS then against after one."""
    seeds, sources = daemon_seeds(ctx)
    db, log = ctx.path("daemon.db"), ctx.path("daemon.log")
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), log):
        path.unlink(missing_ok=True)
    command = [
        *(followup_command(), "daemon", "--seeds", str(seeds), "--db", str(db)),
        *("--log-file", str(log), *setting_args(DAEMON_SETTINGS)),
        # A child process per crawl, as this measurement was made before issue 16; measurement
        # 6 compares it with the worker processes that are now the default.
        *("--workers", "0"),
    ]
    watch, usage = run_daemon(command, db, log, cycles=ctx.options.daemon_cycles)
    ctx.sections.append(_details(ctx, sources, watch, usage, crawls_by_source(db)))
    return _rows(watch)


def daemon_seeds(ctx: Context) -> tuple[Path, list[str]]:
    """Seeds of one mirror source of each kind and a broken feed, all polled every second."""
    first_of_kind: dict[str, SourcePlan] = {}
    for source in ctx.plan.sources:
        first_of_kind.setdefault(source.kind, source)
    picked = list(first_of_kind.values())
    directory = ctx.plan.write_seeds(
        ctx.path("daemon-seeds"), ctx.mirror, sources=picked, keys=SCHEDULE
    )
    ctx.mirror.set_page(
        BROKEN_FEED_URL, Page(b"server error", "text/plain", status=500, conditional=False)
    )
    broken = {"id": "broken", "name": "broken", "site": "generic", **SCHEDULE}
    entry = "".join(f"{key} = {json.dumps(value)}\n" for key, value in broken.items())
    feeds = json.dumps([ctx.mirror.url_for(BROKEN_FEED_URL)])
    with (directory / "sources.toml").open("a", encoding="utf-8") as handle:
        handle.write(f"\n[[source]]\n{entry}feeds = {feeds}\n")
    return directory, [*(s.id for s in picked), "broken"]


def run_daemon(command: list[str], db: Path, log: Path, *, cycles: int) -> tuple[Watch, ChildRun]:
    """Start the daemon, watch it until `cycles` crawls finished, stop it with one SIGTERM."""
    return run_watched(
        command, log, lambda daemon, pid: _watch(daemon, pid, db, log, cycles=cycles)
    )


def run_watched(
    command: list[str], log: Path, watch: Callable[[Spawned, int], T]
) -> tuple[T, ChildRun]:
    """Start the daemon, `watch(spawned, pid)` it, then stop it with one SIGTERM."""
    daemon = start_child(command)
    try:
        pid = daemon.pid()
        seen = watch(daemon, pid)
    except BaseException:
        # Its process group: the spawner and the daemon, which stops its crawls.
        with suppress(ProcessLookupError):
            os.killpg(daemon.spawner.pid, signal.SIGTERM)
        with suppress(BenchError):
            daemon.wait(timeout=STOP_TIMEOUT)
        raise
    os.kill(pid, signal.SIGTERM)
    usage = daemon.wait(timeout=STOP_TIMEOUT)
    if usage.returncode != 0:
        raise BenchError(f"the daemon exited {usage.returncode}: {_tail(log)}")
    return seen, usage


def _watch(daemon: Spawned, pid: int, db: Path, log: Path, *, cycles: int) -> Watch:
    started = time.monotonic()
    deadline = started + HUNG_AFTER + 5 * cycles
    samples: list[Sample] = []
    child_peaks: dict[int, int] = {}
    next_sample = 1  # the first sample once a crawl has finished: the daemon fully started
    while (done := finished_crawls(db)) < cycles:
        if not daemon.running():
            raise BenchError(f"the daemon ended after {done} crawls: {_tail(log)}")
        if time.monotonic() > deadline:
            raise BenchError(f"only {done} of {cycles} daemon crawls finished: {_tail(log)}")
        for child in child_pids(pid):
            with suppress(OSError, KeyError):  # it ended meanwhile, or is a zombie
                child_peaks[child] = max(child_peaks.get(child, 0), _status_bytes(child, "VmHWM"))
        if done >= next_sample:
            samples.append(_sample(pid, done))
            next_sample = done + max(cycles // 10, 1)
        time.sleep(SAMPLE_INTERVAL)
    samples.append(_sample(pid, done))
    own_cpu, children_cpu = _cpu(pid)
    reaped = len(set(child_peaks) - set(child_pids(pid)))
    return Watch(
        samples=samples,
        peak=_status_bytes(pid, "VmHWM"),
        own_cpu=own_cpu,
        children_cpu=children_cpu,
        reaped=reaped,
        child_peaks=sorted(child_peaks.values()),
        elapsed=time.monotonic() - started,
    )


def finished_crawls(db: Path) -> int:
    """Crawls the daemon's children recorded as finished."""
    if not db.exists():
        return 0
    with closing(sqlite3.connect(db, timeout=10)) as connection:
        try:
            row = connection.execute(
                "SELECT count(*) FROM crawl_runs WHERE finished_at IS NOT NULL"
            ).fetchone()
        except sqlite3.OperationalError:  # not migrated yet
            return 0
    return int(row[0])


def crawls_by_source(db: Path) -> dict[str, Counter[str]]:
    """Per source: its crawls, those answered 304, those that read nothing."""
    counts: dict[str, Counter[str]] = {}
    with closing(sqlite3.connect(db, timeout=10)) as connection:
        rows = connection.execute(
            "SELECT sources, stats FROM crawl_runs WHERE finished_at IS NOT NULL"
        ).fetchall()
    for sources, stats in rows:
        for source in json.loads(sources):
            figures = json.loads(stats or "{}").get("sources", {}).get(source, {})
            count = counts.setdefault(source, Counter())
            count["crawls"] += 1
            read = figures.get("lists_read", 0)
            count["unchanged"] += bool(read) and figures.get("not_modified", 0) >= read
            count["failed"] += figures.get("lists_failed", 0) > 0
    return counts


def _status(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _status_bytes(pid: int, field: str) -> int:
    return int(_status(pid)[field].split()[0]) * 1024  # /proc says kB, meaning KiB


def _sample(pid: int, crawls: int) -> Sample:
    return Sample(
        crawls=crawls,
        rss=_status_bytes(pid, "VmRSS"),
        threads=int(_status(pid)["Threads"]),
        open_files=len(os.listdir(f"/proc/{pid}/fd")),
    )


def _cpu(pid: int) -> tuple[float, float]:
    """User + system seconds of the process, and of the children it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    children = (int(fields[13]) + int(fields[14])) / CLOCK_TICKS
    return own, children


def _tail(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-2000:]
    except OSError:
        return "(no daemon log)"


def _rows(watch: Watch) -> list[Row]:
    first, last = watch.samples[0], watch.samples[-1]
    growth = last.rss - first.rss
    peaks = watch.child_peaks
    child_cpu = watch.children_cpu / watch.reaped if watch.reaped else 0.0
    return [
        Row(
            f"5. Daemon RSS after {last.crawls} short cycles",
            f"{megabytes(first.rss)} after crawl {first.crawls}, {megabytes(last.rss)} after "
            f"{last.crawls}; peak {megabytes(watch.peak)}",
            "—",
            f"growth {growth / 1e6:+.1f} MB (target ≤ {TARGET_GROWTH / 1e6:.0f} MB)",
            growth <= TARGET_GROWTH,
        ),
        Row(
            "5. Each crawl of the daemon (a child process)",
            f"CPU {seconds(child_cpu)}; peak RSS median {megabytes(statistics.median(peaks))}, "
            f"max {megabytes(peaks[-1])}",
            "—",
            "—",
        ),
    ]


def _details(
    ctx: Context,
    sources: list[str],
    watch: Watch,
    usage: ChildRun,
    by_source: dict[str, Counter[str]],
) -> str:
    samples = markdown_table(
        ("crawls finished", "daemon RSS", "threads", "open files"),
        [
            (str(s.crawls), megabytes(s.rss), str(s.threads), str(s.open_files))
            for s in watch.samples
        ],
    )
    per_source = markdown_table(
        ("source", "crawls", "answered 304", "failed"),
        [
            (source, str(c["crawls"]), str(c["unchanged"]), str(c["failed"]))
            for source in sources
            for c in [by_source.get(source, Counter())]
        ],
    )
    crawls = watch.samples[-1].crawls
    settings = ", ".join(f"{k}={v}" for k, v in DAEMON_SETTINGS.items() if k not in CRAWL_SETTINGS)
    return "\n".join(
        [
            "## 5. Daemon RSS over short cycles",
            "",
            f"`followup daemon` polling {', '.join(sources)} of the mirror every second "
            "(`every`, `min_every`, `max_every` = 1s; `broken` answers 500), crawls with the "
            f"settings of measurement 1 and {settings}, until {ctx.options.daemon_cycles} crawls "
            f"had finished: {crawls} in {watch.elapsed:.0f} s. The daemon's RSS, threads and "
            "open files (a set per running crawl):",
            "",
            samples,
            "",
            f"- daemon: peak RSS (VmHWM) {megabytes(watch.peak)}; CPU {seconds(watch.own_cpu)} "
            f"in all, {seconds(watch.own_cpu / crawls)} per crawl",
            f"- crawl children: {len(watch.child_peaks)} seen, {watch.reaped} ended; CPU "
            f"{seconds(watch.children_cpu / max(watch.reaped, 1))} per crawl; peak RSS "
            f"(VmHWM, sampled every {SAMPLE_INTERVAL * 1e3:.0f} ms) median "
            f"{megabytes(statistics.median(watch.child_peaks))}, max "
            f"{megabytes(watch.child_peaks[-1])}",
            f"- the daemon and all its crawls, from the kernel when it ended (bench/spawn.py): "
            f"{seconds(usage.cpu)} CPU in {seconds(usage.wall)}, largest peak RSS "
            f"{megabytes(usage.max_rss)}",
            "",
            per_source,
        ]
    )
