"""`followup query` has a time limit, honours Ctrl-C and streams its rows (issue 9, points 10
and 15)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli

ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "


FLAGS = ("--timeout", "1s", "--format", "csv", "--db")
LONG = ("--timeout", "30m", "--db")  # far beyond any wait for CPU time on a loaded machine


def followup_command() -> str:
    return str(Path(sys.executable).with_name("followup"))


def test_an_endless_query_stops_at_its_timeout(crawled: Path) -> None:
    result = CliRunner().invoke(
        cli, ["query", ENDLESS + "SELECT count(*) FROM c", "--db", str(crawled), "--timeout", "1s"]
    )
    assert result.exit_code == 1, result.output
    assert "stopped after 1 s (--timeout)" in result.output


def test_an_endless_result_stops_at_its_timeout_while_streaming(crawled: Path) -> None:
    result = CliRunner().invoke(
        cli, ["query", ENDLESS + "SELECT x, 'row ' || x FROM c", *FLAGS, str(crawled)]
    )
    assert result.exit_code == 1
    assert result.stdout.startswith("x,'row ' || x\n1,row 1\n")  # CliRunner's newlines
    assert "stopped after 1 s (--timeout)" in result.stderr


def test_an_endless_result_streams_in_bounded_memory(crawled: Path) -> None:
    """Rows arrive while the query runs; once a megabyte has come through (however long a
    loaded machine takes), Ctrl-C stops it, and the child's memory stayed small."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    command = [followup_command(), "query", ENDLESS + "SELECT x, 'row ' || x FROM c"]
    with subprocess.Popen(
        [*command, "--format", "csv", *LONG, str(crawled)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        try:
            assert process.stdout is not None and process.stderr is not None
            head = process.stdout.readline()  # rows arrive while the query still runs
            size = len(head)
            while size <= 1_000_000:
                chunk = process.stdout.read1(1 << 16)
                assert chunk, "the query ended by itself"
                size += len(chunk)
            process.send_signal(signal.SIGINT)
            size += sum(len(chunk) for chunk in iter(lambda: process.stdout.read(1 << 16), b""))
            stderr = process.stderr.read().decode()
        finally:
            if process.poll() is None:
                process.kill()
    assert head == b"x,'row ' || x\r\n"
    assert process.returncode == 1 and "stopped by Ctrl-C" in stderr
    assert size > 1_000_000  # far more than one row came through
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib > before:  # this child set a new peak: it is the child's own
        assert peak_kib < 300 * 1024, f"{peak_kib} KiB"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see CPU time")
def test_ctrl_c_stops_a_running_query(crawled: Path) -> None:
    process = subprocess.Popen(
        [followup_command(), "query", ENDLESS + "SELECT count(*) FROM c", *LONG, str(crawled)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Starting Python and importing takes well under 2 s of CPU; past that, SQLite counts.
        deadline = time.monotonic() + 120
        while cpu_seconds(process.pid) < 2.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 1, stderr
    assert stderr.strip() == "Error: stopped by Ctrl-C; nothing was changed"


@pytest.mark.parametrize("sql", ["", "   \n"])
def test_an_empty_query_is_refused(crawled: Path, sql: str) -> None:
    result = CliRunner().invoke(cli, ["query", sql, "--db", str(crawled)])
    assert result.exit_code == 2
    assert "no SQL given" in result.output
