"""Measurement 3: the near-duplicate index at 10k, 100k and 1M stored fingerprints.

followup's index is the SQLite band index of crawler/store.py, measured through its real code
path: `Store.find_original` (four indexed 16-bit bands, then the recent window of the 5,000 newest
fingerprints of the last 30 days, topped up from SQLite before each lookup) and
`NearDuplicateIndex.save_fingerprint` inside its own `Store.transaction()`, as a crawl commits each article.
The stores are built with the newest 5,000 rows inside the 30-day window, so every lookup pays for
a full recent window. Baselines: `simhash.SimhashIndex(k=3)` in memory, and linear scans — a
Python loop over ints with `int.bit_count`, and numpy's `bitwise_count` over a uint64 array.

Each (structure, size) runs in a child process of its own (`python -m bench.index …`), so its
memory is measured alone: RSS growth from before building to after the lookups. All structures
get the same values and queries: 80 % new values (the usual case: a new article), 10 % within
1–3 bits of a stored value (found by the bands), 10 % within 4–10 bits of one of the 5,000 newest
(found by followup's recent window only; SimhashIndex with k=3 is not meant to find them).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.context import Context, python, run_child
from bench.report import Row, markdown_table, median, percentile, ratio, seconds

STRUCTURES = ("followup", "simhashindex", "scan-python", "scan-numpy")
RECENT = 5_000
INSERTS = 200
# Scans are slow by design: cap their lookups by the work they do (values compared in all).
SCAN_BUDGET = {"scan-python": 20_000_000, "scan-numpy": 200_000_000}
TARGET_MEDIAN = 1e-3
TARGET_SPEEDUP = 100
TARGET_SIZE = 1_000_000


@dataclass(frozen=True, slots=True)
class Workload:
    """Stored values, new values to insert, and lookup queries: the same for every structure."""

    values: npt.NDArray[np.uint64]
    inserts: npt.NDArray[np.uint64]
    queries: npt.NDArray[np.uint64]


def workload(size: int, lookups: int, seed: int) -> Workload:
    rng = np.random.default_rng([seed, size])
    values = rng.integers(0, 2**64, size=size, dtype=np.uint64)
    inserts = rng.integers(0, 2**64, size=INSERTS, dtype=np.uint64)
    queries = rng.integers(0, 2**64, size=lookups, dtype=np.uint64)
    near, recent = lookups // 10, lookups // 10
    for index in range(near + recent):
        band = index < near
        pool = size if band else min(RECENT, size)
        base = int(values[size - 1 - int(rng.integers(pool))])
        flips = int(rng.integers(1, 4)) if band else int(rng.integers(4, 11))
        for bit in rng.choice(64, size=flips, replace=False):
            base ^= 1 << int(bit)
        queries[index] = np.uint64(base)
    rng.shuffle(queries)
    return Workload(values, inserts, queries)


def rss() -> int:
    """Resident set size of this process now, in bytes."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def timed(
    call: Callable[..., Any], arguments: Iterable[tuple[Any, ...]]
) -> tuple[list[float], list[Any]]:
    """Seconds of each call(*args), and what each returned."""
    times, results = [], []
    for args in arguments:
        start = time.perf_counter()
        results.append(call(*args))
        times.append(time.perf_counter() - start)
    return times, results


# The structures --------------------------------------------------------------------------------


def run_followup(work: Workload, directory: Path) -> dict[str, Any]:
    from crawler.dates import to_iso, utcnow
    from crawler.fingerprint import split_bands, to_signed
    from crawler.store import Store

    path = directory / f"index-{len(work.values)}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    before = rss()
    store = Store.open(path)
    size, now = len(work.values), utcnow()

    def fetched_at(i: int) -> str | None:
        # The newest RECENT rows are inside the 30-day window, older ones before it.
        age = (
            timedelta(minutes=8 * (size - i))
            if size - i <= RECENT
            else timedelta(days=31, minutes=size - i)
        )
        return to_iso(now - age)

    start = time.perf_counter()
    with store.transaction():
        store.db.conn.executemany(
            "INSERT INTO articles (id, url, source, title, fetched_at, text, title_key) VALUES (?, ?, ?, ?, ?, '', ?)",
            (
                (
                    i + 1,
                    f"https://bench.example/a/{i}",
                    "bench",
                    f"article {i}",
                    fetched_at(i),
                    f"t{i}",
                )
                for i in range(size)
            ),
        )
        store.db.conn.executemany(
            "INSERT INTO fingerprints (article_id, value, b0, b1, b2, b3) VALUES (?, ?, ?, ?, ?, ?)",
            ((i + 1, to_signed(v), *split_bands(v)) for i, v in enumerate(map(int, work.values))),
        )
    build = time.perf_counter() - start
    ids = np.random.default_rng(size).integers(1, size + 1, size=len(work.inserts))

    def insert(article_id: int, value: int) -> None:
        with store.transaction():
            store.neardup.save_fingerprint(article_id, value)

    insert_times, _ = timed(insert, zip(ids.tolist(), work.inserts.tolist(), strict=True))
    first, _ = timed(store.find_original, [(int(work.queries[0]), "")])  # loads the window
    lookup_times, found = timed(store.find_original, ((q, "") for q in work.queries.tolist()))
    after = rss()
    store.close()
    file_size = sum(
        Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists()
    )
    return {
        "build_s": build,
        "insert": insert_times,
        "lookup": lookup_times,
        "found": sum(o is not None for o in found),
        "rss": after - before,
        "file": file_size,
        "window_load_s": first[0],
        "recent_window": len(store.neardup.recent.values),
    }


class _Objects:
    """SimhashIndex's (obj_id, Simhash) pairs, made one at a time (its constructor wants len())."""

    def __init__(self, values: npt.NDArray[np.uint64]) -> None:
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        from simhash import Simhash

        for i, value in enumerate(map(int, self.values)):
            yield str(i), Simhash(value)


def run_simhashindex(work: Workload, directory: Path) -> dict[str, Any]:
    from simhash import Simhash, SimhashIndex

    before = rss()
    start = time.perf_counter()
    index = SimhashIndex(_Objects(work.values), k=3)
    build = time.perf_counter() - start
    size = len(work.values)

    def insert(number: int, value: int) -> None:
        index.add(str(number), Simhash(value))

    def lookup(query: int) -> list[str]:
        return index.get_near_dups(Simhash(query))

    insert_times, _ = timed(insert, enumerate(work.inserts.tolist(), start=size))
    lookup_times, found = timed(lookup, ((q,) for q in work.queries.tolist()))
    return {
        "build_s": build,
        "insert": insert_times,
        "lookup": lookup_times,
        "found": sum(bool(f) for f in found),
        "rss": rss() - before,
    }


def run_scan_python(work: Workload, directory: Path) -> dict[str, Any]:
    before = rss()
    values: list[int] = work.values.tolist()
    grown = rss() - before
    queries = work.queries[: _scan_lookups("scan-python", len(values), len(work.queries))]

    def nearest(query: int) -> tuple[int, int]:
        distances = [(value ^ query).bit_count() for value in values]
        best = min(distances)
        return distances.index(best), best

    lookup_times, found = timed(nearest, ((q,) for q in queries.tolist()))
    return {"lookup": lookup_times, "found": sum(d <= 10 for _, d in found), "rss": grown}


def run_scan_numpy(work: Workload, directory: Path) -> dict[str, Any]:
    before = rss()
    values = work.values.copy()
    grown = rss() - before
    queries = work.queries[: _scan_lookups("scan-numpy", len(values), len(work.queries))]

    def nearest(query: np.uint64) -> tuple[int, int]:
        distances = np.bitwise_count(values ^ query)
        best = int(distances.argmin())
        return best, int(distances[best])

    lookup_times, found = timed(nearest, ((q,) for q in queries))
    return {"lookup": lookup_times, "found": sum(d <= 10 for _, d in found), "rss": grown}


def _scan_lookups(structure: str, size: int, lookups: int) -> int:
    return max(5, min(lookups, SCAN_BUDGET[structure] // size))


RUNNERS: dict[str, Callable[[Workload, Path], dict[str, Any]]] = {
    "followup": run_followup,
    "simhashindex": run_simhashindex,
    "scan-python": run_scan_python,
    "scan-numpy": run_scan_numpy,
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.index", description="One index measurement, as JSON."
    )
    parser.add_argument("structure", choices=STRUCTURES)
    parser.add_argument("size", type=int)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    work = workload(args.size, args.lookups, args.seed)
    result = RUNNERS[args.structure](work, args.dir)
    for key in ("insert", "lookup"):
        if key in result:
            times = result.pop(key)
            result[key] = {
                "median": median(times),
                "p99": percentile(times, 0.99),
                "count": len(times),
            }
    print(json.dumps(result))


# The measurement -------------------------------------------------------------------------------


def measure_index(ctx: Context) -> list[Row]:
    """Every structure at every size, each in its own child process."""
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for size in ctx.options.index_sizes:
        for structure in STRUCTURES:
            command = [
                python(), "-m", "bench.index", structure, str(size),
                "--lookups", str(ctx.options.lookups), "--seed", str(ctx.options.seed), "--dir", str(ctx.workdir),
            ]  # fmt: skip
            run = run_child(command)
            if run.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed: {run.stderr[-2000:]}")
            results[(structure, size)] = json.loads(run.stdout)
    ctx.sections.append(_details(ctx, results))
    return [row for size in ctx.options.index_sizes for row in _rows(results, size)]


def _rows(results: dict[tuple[str, int], dict[str, Any]], size: int) -> list[Row]:
    ours, theirs = results[("followup", size)], results[("simhashindex", size)]
    python_scan, numpy_scan = results[("scan-python", size)], results[("scan-numpy", size)]
    median_ours = ours["lookup"]["median"]
    speedup = python_scan["lookup"]["median"] / median_ours
    numpy_speedup = numpy_scan["lookup"]["median"] / median_ours
    vs = f"Python-loop scan ÷ followup {ratio(speedup)}, numpy scan ÷ followup {ratio(numpy_speedup)}"
    met = None
    if size >= TARGET_SIZE:
        vs += f" (target: median ≤ 1 ms and ≥ {TARGET_SPEEDUP}× faster than the Python-loop scan)"
        met = median_ours <= TARGET_MEDIAN and speedup >= TARGET_SPEEDUP
    return [
        Row(
            f"3. Index lookup, {size:,} stored (median / p99)",
            _pair(ours["lookup"]),
            f"SimhashIndex {_pair(theirs['lookup'])}; scan: Python loop {seconds(python_scan['lookup']['median'])}, "
            f"numpy {seconds(numpy_scan['lookup']['median'])}",
            vs,
            met,
        ),
        Row(
            f"3. Index insert, {size:,} stored (median / p99)",
            f"{_pair(ours['insert'])} (one transaction each)",
            f"SimhashIndex.add {_pair(theirs['insert'])}",
            ratio(ours["insert"]["median"] / theirs["insert"]["median"]),
        ),
        Row(
            f"3. Index memory, {size:,} stored",
            f"RSS +{ours['rss'] / 1e6:.1f} MB, file {ours['file'] / 1e6:.1f} MB",
            f"SimhashIndex RSS +{theirs['rss'] / 1e6:.1f} MB; scan: Python list +{python_scan['rss'] / 1e6:.1f} MB, "
            f"numpy +{numpy_scan['rss'] / 1e6:.1f} MB",
            "—",
        ),
    ]


def _pair(figures: dict[str, float]) -> str:
    return f"{seconds(figures['median'])} / {seconds(figures['p99'])}"


def _details(ctx: Context, results: dict[tuple[str, int], dict[str, Any]]) -> str:
    rows = []
    for (structure, size), result in results.items():
        lookup = result["lookup"]
        rows.append(
            (
                f"{size:,}",
                structure,
                seconds(result["build_s"]) if "build_s" in result else "—",
                f"{lookup['count']}",
                f"{result['found']}",
                seconds(result["window_load_s"]) if "window_load_s" in result else "—",
            )
        )
    return "\n".join(
        [
            "## 3. Near-duplicate index",
            "",
            (__doc__ or "").split("\n\n", 1)[1].strip(),
            "",
            "Bulk build (one transaction of `executemany` for SQLite; the constructor for SimhashIndex) is set-up, "
            "not a measured figure; a lookup is counted as found when it returned a stored value within 10 bits "
            "(SimhashIndex: within its k = 3). The first followup lookup loads the recent window from SQLite; it is "
            "timed apart and not among the lookups.",
            "",
            markdown_table(
                (
                    "stored",
                    "structure",
                    "bulk build",
                    "lookups",
                    "found",
                    "first lookup (window load)",
                ),
                rows,
            ),
        ]
    )


if __name__ == "__main__":
    main()
