"""The benchmark's output: one Markdown table of measurements, the machine, the parameters."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("measurement", "followup", "baseline", "ratio / target", "met?")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table. `met` is None where no target applies."""

    measurement: str
    followup: str
    baseline: str
    ratio: str
    met: bool | None = None

    def cells(self) -> tuple[str, ...]:
        met = "—" if self.met is None else ("yes" if self.met else "**no**")
        return (self.measurement, self.followup, self.baseline, self.ratio, met)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def results_table(rows: Iterable[Row]) -> str:
    return markdown_table(COLUMNS, (row.cells() for row in rows))


# Figures -------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (p99: fraction 0.99)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def seconds(value: float) -> str:
    """A duration with a unit that keeps three significant figures readable."""
    # Units are picked after rounding: 999.6 µs is "1 ms", not "1e+03 µs".
    if float(f"{value:.3g}") >= 1:
        return f"{value:.2f} s"
    if float(f"{value:.3g}") >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def megabytes(value: float) -> str:
    return f"{value / 1e6:.1f} MB"


def ratio(value: float) -> str:
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


# Machine -------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """What ran the benchmark: CPU, cores, memory, and the versions that matter."""
    return {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        **{name: _version(name) for name in ("Scrapy", "Twisted", "lxml", "numpy", "simhash")},
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on a shared machine skews every figure."""
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def definition_list(items: dict[str, str]) -> str:
    return "\n".join(f"- **{key}**: {value}" for key, value in items.items())
