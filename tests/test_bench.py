"""The benchmark's smoke test: `python -m bench --quick` runs and reports every measurement.

No timing is asserted (a shared CI machine decides those); the run must finish, every row must be
in the table, figures must be numbers that make sense, and the two measurements that need issue 4
must say so instead of showing a figure.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUICK_SIZES = ("1,000", "5,000")
ROWS = (
    "1. Crawl wall time",
    "1. CPU per article (user + sys, start-up included)",
    "1. CPU per article, start-up excluded",
    "1. Peak RSS of the crawl",
    "2. Unchanged re-crawl",
    *(
        f"3. Index {kind}, {size} stored"
        for size in QUICK_SIZES
        for kind in ("lookup", "insert", "memory")
    ),
    "4. Fingerprint of a 5,000-character article",
    "5. Daemon RSS after 200 short cycles",
)
PENDING = ("2. ", "5. ")
NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def table_rows(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines():
        if line.startswith("| ") and not line.startswith("| measurement"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def numbers(cell: str) -> list[float]:
    return [float(n.replace(",", "")) for n in NUMBER_RE.findall(cell)]


def test_quick_benchmark_reports_every_measurement(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(report)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = table_rows(result.stdout)
    for expected in ROWS:
        assert [name for name in rows if name.startswith(expected)], f"no row {expected!r}"
    assert len(rows) == len(ROWS)
    for name, (followup, baseline, _, met) in rows.items():
        if name.startswith(PENDING):
            assert followup == "not measured yet: needs issue 4"
            assert met == "—"
            continue
        figures = numbers(followup) + numbers(baseline)
        assert figures or followup == "start-up dominates at this size", name
        assert all(math.isfinite(f) and f >= 0 for f in figures), (name, followup, baseline)
        assert met in ("yes", "**no**", "—")
    text = report.read_text(encoding="utf-8")
    assert "| measurement | followup | baseline | ratio / target | met? |" in text
    for section in ("## Machine", "## Parameters", "## 1. Full pipeline", "## 3. Near-duplicate"):
        assert section in text
