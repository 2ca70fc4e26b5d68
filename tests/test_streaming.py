"""Streaming readers: export holds one batch of articles at a time, whatever the store's size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.coverage import Coverage, iter_coverage
from crawler.export import article_record, iter_csv, iter_json, iter_render
from crawler.store import Store, open_readonly

ROWS = 20_000
MAX_RSS_MB = 110  # this code peaks near 62 MB here; the code before streaming, 165 MB (ndjson)


def item(i: int) -> Coverage:
    return Coverage(
        id=i,
        url=f"https://a.example/{i}",
        source="a",
        title=f'标题 "{i}"\n',
        author=None,
        published_at=None,
        fetched_at="2026-11-20T00:00:00Z",
        text="正文。" * i,
        baseline=False,
        topics={"t": ["正文"]},
    )


@pytest.mark.parametrize("count", [0, 1, 3])
def test_json_streamed_is_the_array_json_dumps_writes(count: int) -> None:
    items = [item(i) for i in range(count)]
    records = [article_record(i) for i in items]
    text = "".join(iter_json(iter(items)))
    assert text == json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    assert json.loads(text) == records


def test_csv_comes_in_pieces_that_add_up_to_the_whole() -> None:
    pieces = list(iter_csv((item(i) for i in range(450)), bom=True))
    assert len(pieces) == 3 and pieces[0].startswith("\ufeffpublished_at,")
    assert "".join(pieces).count("https://a.example/") == 450


def test_iter_coverage_streams_newest_first_across_batches(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    build = [f"2026-11-{1 + i % 28:02d}T00:00:{i % 60:02d}Z" for i in range(1200)]
    with store.transaction():
        store.db.conn.executemany(
            "INSERT INTO articles (id, url, source, title, fetched_at, text, title_key) "
            "VALUES (?, ?, 'a', 't', ?, 'x', 'k')",
            [(i + 1, f"https://a.example/{i + 1}", when) for i, when in enumerate(build)],
        )
        store.db.execute("INSERT INTO article_topics VALUES (7, 't', '[\"x\"]')")
    store.close()
    with open_readonly(tmp_path / "f.db") as db:
        items = list(iter_coverage(db))
    keys = [(i.fetched_at, i.id) for i in items]
    assert len(items) == 1200 and keys == sorted(keys, reverse=True)
    assert next(i for i in items if i.id == 7).topics == {"t": ["x"]}


def test_an_atom_export_without_a_topic_fails_before_writing() -> None:
    from datetime import UTC, datetime

    from crawler.export import ExportError

    with pytest.raises(ExportError, match="--topic"):
        iter_render([], "atom", now=datetime.now(UTC))


# The child's own peak: VmHWM belongs to the process image exec made. getrusage's ru_maxrss
# would not do: Linux carries it over exec from the forked copy of this (large) pytest process.
CHILD = """
import re, sys
from pathlib import Path
from crawler.cli import cli
try:
    cli.main(sys.argv[1:], standalone_mode=False)
finally:
    status = Path("/proc/self/status").read_text()
    print(int(re.search(r"VmHWM:\\s*(\\d+) kB", status)[1]) // 1024, file=sys.stderr)
"""


@pytest.fixture(scope="module")
def large_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bench.serve import build_store

    path = tmp_path_factory.mktemp("large") / "large.db"
    build_store(path, ROWS, seed=1)
    return path


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
def test_export_of_a_large_store_runs_in_bounded_memory(large_store: Path, fmt: str) -> None:
    out = large_store.parent / f"out.{fmt}"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            "export",
            "--db",
            str(large_store),
            "--format",
            fmt,
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stderr.split()[-1])
    assert peak_mb < MAX_RSS_MB, f"peak RSS {peak_mb} MB exporting {fmt}"
    if fmt == "ndjson":
        assert out.read_text(encoding="utf-8").count("\n") == ROWS
    if fmt == "json":
        assert len(json.loads(out.read_text(encoding="utf-8"))) == ROWS
