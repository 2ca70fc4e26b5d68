"""Measurement 6: polls that cost nothing — crawls in worker processes against a child per poll.

The same `followup daemon`, run twice in turn, side by side: `--workers 0` (each poll a child
`python -m crawler crawl`, the daemon before issue 16) and the default (long-lived workers,
one Scrapy process running many crawls). Each run:

- polls the sources of measurement 5 (one of each kind and a feed answering 500) every second
  until `daemon_cycles` crawls have finished. Every crawl but each source's first is answered
  304, so CPU per poll is the whole run's CPU (the daemon and every process under it, from the
  kernel: bench/spawn.py) over its crawls: the 304 poll amortised, start-up and first crawls
  included. A source polled every 15 min costs that CPU every 900 s, so 100 such sources take
  CPU per poll × 100 / 900 s of one core (the share below);
- polls 100 sources (the mirror's sources repeated under new ids, every second, so all are due
  at once: the worst wave) until each source has finished a crawl, sampling every 50 ms the
  summed RSS of the daemon and every process under it: the peak is the memory figure.
"""

from __future__ import annotations

import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from bench.context import (
    BenchError,
    Context,
    Spawned,
    child_pids,
    followup_command,
)
from bench.daemon import (
    DAEMON_SETTINGS,
    HUNG_AFTER,
    SCHEDULE,
    crawls_by_source,
    daemon_seeds,
    finished_crawls,
    run_watched,
)
from bench.pipeline import setting_args
from bench.report import Row, megabytes, seconds

MODES = {"child per poll": ("--workers", "0"), "workers": ()}
FLEET = 100  # sources of the memory run (10 with --quick)
# Crawls the child-per-poll daemon runs of them: its peak comes with the first wave (--max-crawls
# children at once), and each costs a whole process start.
FLEET_CHILD_CRAWLS = 20
POLL_EVERY = 900.0  # seconds: 15 min, the interval of the CPU-share target
TARGET_POLL_CPU = 0.1  # seconds per unchanged poll, amortised
TARGET_SHARE = 0.02  # of one core, 100 sources every 15 min
TARGET_RSS = 400e6  # bytes, daemon + workers, 100 sources
SAMPLE_INTERVAL = 0.05  # seconds
STOP_TIMEOUT = 180.0  # seconds


@dataclass(frozen=True, slots=True)
class DaemonRun:
    """One daemon run: crawls finished (304 among them), its whole CPU, its summed peak RSS."""

    crawls: int
    unchanged: int
    cpu: float  # seconds: the daemon and every process it reaped
    peak_rss: int  # bytes: the most the daemon and its processes held at once
    wall: float


def measure_daemon_workers(ctx: Context) -> list[Row]:
    seeds, _ = daemon_seeds(ctx)
    size = 10 if ctx.options.quick else FLEET
    fleet = fleet_seeds(ctx, size)
    polls, memory = {}, {}
    for mode, args in MODES.items():
        tag = mode.replace(" ", "-")
        polls[mode] = run_daemon(ctx, seeds, f"polls-{tag}", args, cycles=ctx.options.daemon_cycles)
        crawls = size if mode == "workers" else min(size, FLEET_CHILD_CRAWLS)
        memory[mode] = run_daemon(ctx, fleet, f"fleet-{tag}", args, cycles=crawls)
    ctx.sections.append(_details(polls, memory, size))
    return _rows(polls, memory, size)


def fleet_seeds(ctx: Context, count: int) -> Path:
    """count sources: the mirror's sources over and over, each under an id of its own."""
    directory = ctx.plan.write_seeds(ctx.path("fleet-seeds"), ctx.mirror, keys=SCHEDULE)
    entries = (directory / "sources.toml").read_text(encoding="utf-8").split("[[source]]\n")[1:]
    copies = []
    for n in range(count):
        entry = entries[n % len(entries)]
        source_id = entry.split('"', 2)[1]
        copies.append(entry.replace(f'id = "{source_id}"', f'id = "{source_id}_{n}"', 1))
    (directory / "sources.toml").write_text(
        "".join(f"[[source]]\n{e}" for e in copies), encoding="utf-8"
    )
    return directory


def run_daemon(
    ctx: Context, seeds: Path, name: str, args: tuple[str, ...], *, cycles: int
) -> DaemonRun:
    """Run the daemon until `cycles` crawls finished, then stop it with one SIGTERM."""
    db, log = ctx.path(f"{name}.db"), ctx.path(f"{name}.log")
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), log):
        path.unlink(missing_ok=True)
    command = [
        *(followup_command(), "daemon", "--seeds", str(seeds), "--db", str(db)),
        *("--log-file", str(log), *args, *setting_args(DAEMON_SETTINGS)),
    ]
    started = time.monotonic()
    deadline = started + HUNG_AFTER + 5 * cycles
    peak, usage = run_watched(
        command, log, lambda daemon, pid: _watch(daemon, pid, db, cycles=cycles, deadline=deadline)
    )
    by_source = crawls_by_source(db)
    return DaemonRun(
        crawls=sum(c["crawls"] for c in by_source.values()),
        unchanged=sum(c["unchanged"] for c in by_source.values()),
        cpu=usage.cpu,
        peak_rss=peak,
        wall=time.monotonic() - started,
    )


def _watch(daemon: Spawned, pid: int, db: Path, *, cycles: int, deadline: float) -> int:
    peak = 0
    while finished_crawls(db) < cycles:
        if not daemon.running():
            raise BenchError(f"the daemon ended after {finished_crawls(db)} crawls")
        if time.monotonic() > deadline:
            raise BenchError(f"only {finished_crawls(db)} of {cycles} daemon crawls finished")
        peak = max(peak, tree_rss(pid))
        time.sleep(SAMPLE_INTERVAL)
    return peak


def tree_rss(pid: int) -> int:
    """The summed RSS of pid and every process under it, bytes (0 for one that just ended)."""
    total = 0
    for process in [pid, *_descendants(pid)]:
        with suppress(OSError, KeyError, ValueError):
            status = Path(f"/proc/{process}/status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            total += int(fields["VmRSS"].split()[0]) * 1024
    return total


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        children = child_pids(queue.pop())
        found.extend(children)
        queue.extend(children)
    return found


def share(run: DaemonRun, sources: int = 100) -> float:
    """Of one core: `sources` polled every POLL_EVERY at this CPU per poll."""
    return run.cpu / run.crawls * sources / POLL_EVERY


def _rows(polls: dict[str, DaemonRun], memory: dict[str, DaemonRun], size: int) -> list[Row]:
    new, old = polls["workers"], polls["child per poll"]
    per_poll = new.cpu / new.crawls
    return [
        Row(
            "8. CPU per daemon poll (mostly 304), amortised",
            f"{seconds(per_poll)} (workers)",
            f"{seconds(old.cpu / old.crawls)} (child per poll)",
            f"{old.cpu / old.crawls / per_poll:.0f}× less (target ≤ {TARGET_POLL_CPU} s)",
            per_poll <= TARGET_POLL_CPU,
        ),
        Row(
            "8. 100 sources every 15 min, share of one core",
            f"{share(new):.2%}",
            f"{share(old):.2%}",
            f"target ≤ {TARGET_SHARE:.0%}",
            share(new) <= TARGET_SHARE,
        ),
        Row(
            f"8. Daemon + workers peak RSS, {size} sources due at once",
            megabytes(memory["workers"].peak_rss),
            megabytes(memory["child per poll"].peak_rss),
            f"target ≤ {TARGET_RSS / 1e6:.0f} MB",
            memory["workers"].peak_rss <= TARGET_RSS,
        ),
    ]


def _details(polls: dict[str, DaemonRun], memory: dict[str, DaemonRun], size: int) -> str:
    lines = [
        "## 8. Daemon polls: worker processes against a child per poll",
        "",
        "| daemon | run | crawls | answered 304 | CPU in all | CPU per crawl | peak RSS, "
        "daemon + processes under it | wall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run_name, runs in (("polls", polls), (f"{size} sources", memory)):
        for mode, run in runs.items():
            lines.append(
                f"| {mode} | {run_name} | {run.crawls} | {run.unchanged} | {seconds(run.cpu)} "
                f"| {seconds(run.cpu / max(run.crawls, 1))} | {megabytes(run.peak_rss)} "
                f"| {seconds(run.wall)} |"
            )
    lines += [
        "",
        "The daemon's default caps on this machine: --max-crawls 2 per core, --workers 1 per "
        "core. CPU per crawl counts the daemon and every process it reaped (bench/spawn.py), "
        f"start-up included; the share is CPU per crawl × 100 / {POLL_EVERY:.0f} s.",
    ]
    return "\n".join(lines)
