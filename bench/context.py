"""What every measurement gets: the options, the served mirror, and child processes measured.

A measurement is a function `measure_*(ctx: Context) -> list[Row]` listed in bench/run.py. It may
add Markdown sections for docs/benchmarks.md to `ctx.sections`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.mirrorgen import MirrorPlan
from crawler.mirror import Mirror

REPO = Path(__file__).resolve().parents[1]
CHILD_TIMEOUT = 1800.0


class BenchError(RuntimeError):
    """A run that cannot give a fair figure: a crawl failed, or the baseline fetched other URLs."""


@dataclass(frozen=True, slots=True)
class Options:
    """The benchmark's parameters (see `python -m bench --help`)."""

    sources: int = 20
    articles: int = 50
    runs: int = 3
    seed: int = 1
    index_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    lookups: int = 2_000
    daemon_cycles: int = 200
    serve_articles: int = 1_000_000
    only: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14)  # the measurements to run
    quick: bool = False
    profile: bool = True
    real: Path | None = None  # a directory of real texts for measurement 6 (never committed)


@dataclass(slots=True)
class Context:
    """A running benchmark: options, scratch directory, the generated mirror being served."""

    options: Options
    workdir: Path
    mirror: Mirror
    plan: MirrorPlan
    sections: list[str] = field(default_factory=list)
    # Measurement 1's crawl CPU per article (start-up excluded), for measurement 6's cost.
    crawl_cpu_per_article: float | None = None
    # The size of the store bench.serve.large_store built in this run (None: not built yet).
    large_store_size: int | None = None

    def path(self, name: str) -> Path:
        return self.workdir / name


@dataclass(frozen=True, slots=True)
class ChildRun:
    """One child process, measured by the kernel (os.wait4): its own CPU and peak RSS."""

    wall: float  # seconds
    cpu: float  # user + system seconds
    max_rss: int  # bytes
    returncode: int
    stdout: str
    stderr: str


def run_child(command: Sequence[str], *, timeout: float = CHILD_TIMEOUT) -> ChildRun:
    """Run command from the repository root, measured by bench.spawn (its own CPU and peak RSS)."""
    return start_child(command).wait(timeout=timeout)


def start_child(command: Sequence[str]) -> Spawned:
    """Start command from the repository root through bench.spawn; `wait()` gives its figures.

    stdout and stderr go to files, so no pipe can block.
    """
    scratch = Path(tempfile.mkdtemp(prefix="child-"))
    with (scratch / "stdout").open("wb") as out, (scratch / "stderr").open("wb") as err:
        spawner = subprocess.Popen(
            [sys.executable, "-m", "bench.spawn", str(scratch / "usage.json"), *command],
            cwd=REPO,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    return Spawned(spawner, scratch, tuple(command))


@dataclass(slots=True)
class Spawned:
    """A command running under bench.spawn, in a session of its own."""

    spawner: subprocess.Popen[bytes]
    scratch: Path
    command: tuple[str, ...]

    def pid(self, *, timeout: float = 30.0) -> int:
        """The command's own process id (the spawner's only child)."""
        deadline = time.monotonic() + timeout
        while not (found := child_pids(self.spawner.pid)):
            if self.spawner.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{' '.join(self.command)} did not start: {self.stderr()}")
            time.sleep(0.01)
        return found[0]

    def running(self) -> bool:
        return self.spawner.poll() is None

    def stderr(self) -> str:
        return (self.scratch / "stderr").read_text(encoding="utf-8", errors="replace")[-2000:]

    def wait(self, *, timeout: float = CHILD_TIMEOUT) -> ChildRun:
        """Its figures once it ends; on timeout the whole process group is killed."""
        try:
            try:
                self.spawner.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.spawner.pid, signal.SIGKILL)
                self.spawner.wait()
                command = " ".join(self.command)
                raise BenchError(f"timed out after {timeout:.0f} s: {command}") from None
            usage_file = self.scratch / "usage.json"
            if self.spawner.returncode != 0 or not usage_file.exists():
                raise BenchError(f"could not measure {' '.join(self.command)}: {self.stderr()}")
            usage = json.loads(usage_file.read_text(encoding="utf-8"))
            return ChildRun(
                wall=usage["wall"],
                cpu=usage["cpu"],
                max_rss=usage["max_rss"],
                returncode=usage["returncode"],
                stdout=(self.scratch / "stdout").read_text(encoding="utf-8", errors="replace"),
                stderr=(self.scratch / "stderr").read_text(encoding="utf-8", errors="replace"),
            )
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is pid, from /proc (Linux), in pid order."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        # The command name is in parentheses and may hold spaces: the parent pid follows it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def python() -> str:
    return sys.executable


def followup_command() -> str:
    """The installed `followup` command of this environment."""
    return str(Path(sys.executable).with_name("followup"))
