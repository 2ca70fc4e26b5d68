"""What every measurement gets: the options, the served mirror, and child processes measured.

A measurement is a function `measure_*(ctx: Context) -> list[Row]` listed in bench/run.py. It may
add Markdown sections for docs/benchmarks.md to `ctx.sections`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
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
    quick: bool = False
    profile: bool = True


@dataclass(slots=True)
class Context:
    """A running benchmark: options, scratch directory, the generated mirror being served."""

    options: Options
    workdir: Path
    mirror: Mirror
    plan: MirrorPlan
    sections: list[str] = field(default_factory=list)

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
    """Run command from the repository root, measured by bench.spawn (its own CPU and peak RSS).

    stdout and stderr go to files, so no pipe can block; on timeout the whole process group is
    killed.
    """
    with tempfile.TemporaryDirectory(prefix="child-") as scratch:
        usage_file = Path(scratch) / "usage.json"
        out_file, err_file = Path(scratch) / "stdout", Path(scratch) / "stderr"
        with out_file.open("wb") as out, err_file.open("wb") as err:
            spawner = subprocess.Popen(
                [sys.executable, "-m", "bench.spawn", str(usage_file), *command],
                cwd=REPO,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            try:
                spawner.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(spawner.pid, signal.SIGKILL)
                spawner.wait()
                raise BenchError(f"timed out after {timeout:.0f} s: {' '.join(command)}") from None
        if spawner.returncode != 0 or not usage_file.exists():
            raise BenchError(
                f"could not measure {' '.join(command)}: {err_file.read_text()[-2000:]}"
            )
        usage = json.loads(usage_file.read_text(encoding="utf-8"))
        return ChildRun(
            wall=usage["wall"],
            cpu=usage["cpu"],
            max_rss=usage["max_rss"],
            returncode=usage["returncode"],
            stdout=out_file.read_text(encoding="utf-8", errors="replace"),
            stderr=err_file.read_text(encoding="utf-8", errors="replace"),
        )


def python() -> str:
    return sys.executable


def followup_command() -> str:
    """The installed `followup` command of this environment."""
    return str(Path(sys.executable).with_name("followup"))
