"""The daemon's memory over many short cycles: `python -m bench.daemon_rss [CYCLES]`.

Runs the installed `followup daemon` against the tests' local web with three sources pinned
to a 1 s interval (a full-text feed, a teaser feed whose pages are fetched, a feed answering
500), until CYCLES crawls have finished. Samples the daemon's RSS, threads and open files,
and every crawl child's RSS, through /proc (Linux). Prints what it measured.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing, suppress
from pathlib import Path

from crawler.mirror import Mirror
from tests.helpers import WEB, setting_args, write_seeds

SOURCES = "".join(
    f"""
[[source]]
id = "{source}"
site = "generic"
feeds = ["{{{feed}}}"]
every = "1s"
min_every = "1s"
max_every = "1s"
"""
    for source, feed in [
        ("news", "https://news.example.com/feed.xml"),
        ("daily", "https://daily.example.org/rss"),
        ("broken", "https://broken.example.com/feed"),
    ]
)


def status(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def kib(pid: int, field: str = "VmRSS") -> int:
    return int(status(pid)[field].split()[0])


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def finished_runs(db: Path) -> int:
    if not db.exists():
        return 0
    with closing(sqlite3.connect(db, timeout=10)) as connection:
        try:
            return connection.execute(
                "SELECT count(*) FROM crawl_runs WHERE finished_at IS NOT NULL"
            ).fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def main(cycles: int) -> None:
    tick = os.sysconf("SC_CLK_TCK")
    with Mirror.from_directory(WEB) as web, tempfile.TemporaryDirectory() as tmp:
        seeds = write_seeds(Path(tmp) / "seeds", web, SOURCES)
        db, log = Path(tmp) / "f.db", Path(tmp) / "daemon.log"
        command = Path(sys.executable).with_name("followup")
        daemon = subprocess.Popen(
            [
                *(str(command), "daemon", "--seeds", str(seeds), "--db", str(db)),
                *("--log-file", str(log), *setting_args()),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.monotonic()
        samples: list[tuple[int, int, int, int]] = []  # runs, RSS KiB, threads, fds
        child_peak: dict[int, int] = {}
        next_sample = 1  # the first sample once a crawl has run: the daemon fully started
        try:
            while (runs := finished_runs(db)) < cycles:
                for child in children(daemon.pid):
                    with suppress(OSError, KeyError):  # it ended meanwhile
                        child_peak[child] = max(child_peak.get(child, 0), kib(child))
                if runs >= next_sample:
                    fds = len(os.listdir(f"/proc/{daemon.pid}/fd"))
                    threads = int(status(daemon.pid)["Threads"])
                    samples.append((runs, kib(daemon.pid), threads, fds))
                    next_sample = runs + max(cycles // 10, 1)
                time.sleep(0.02)
            samples.append(
                (
                    runs,
                    kib(daemon.pid),
                    int(status(daemon.pid)["Threads"]),
                    len(os.listdir(f"/proc/{daemon.pid}/fd")),
                )
            )
            peak_kib = kib(daemon.pid, "VmHWM")
            stat = Path(f"/proc/{daemon.pid}/stat").read_text().rsplit(")", 1)[1].split()
            own_cpu = (int(stat[11]) + int(stat[12])) / tick
            child_cpu = (int(stat[13]) + int(stat[14])) / tick
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
        elapsed = time.monotonic() - started
    crawls = len(child_peak)
    peaks = sorted(child_peak.values())
    print(f"{runs} crawls finished in {elapsed:.0f} s ({crawls} crawl processes seen)")
    print("crawls  daemon RSS (MiB)  threads  open fds")
    for done, rss, threads, fds in samples:
        print(f"{done:6d}  {rss / 1024:16.1f}  {threads:7d}  {fds:8d}")
    print(f"daemon peak RSS (VmHWM): {peak_kib / 1024:.1f} MiB; exit status {daemon.returncode}")
    print(f"daemon CPU: {own_cpu:.1f} s in all, {own_cpu / runs * 1000:.0f} ms per crawl")
    print(f"crawl CPU: {child_cpu / runs:.2f} s per crawl (children reaped: {child_cpu:.0f} s)")
    if peaks:
        print(
            f"crawl RSS (sampled every 20 ms): median {peaks[len(peaks) // 2] / 1024:.0f} MiB, "
            f"max {peaks[-1] / 1024:.0f} MiB"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 150)
