"""The pure parts of daemon workers: their protocol, lost crawls' retry, the default caps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import Source
from crawler.daemon import DaemonOptions, default_max_crawls, default_workers, lost_report
from crawler.polling import LOST_RETRY, RunReport, after_run, read_run
from crawler.state import SourceState
from crawler.worker_protocol import (
    CrawlReport,
    ProtocolError,
    encode_crawl,
    encode_report,
    encode_stop,
    parse_command,
    parse_report,
)

EVERY = timedelta(minutes=15)
SOURCE = Source("news", "News", "generic", feeds=("https://a.example/feed",), every=EVERY)
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
FIGURES = {"lists_read": 1, "not_modified": 1, "lists_failed": 0, "entries": 0}


def test_commands_round_trip() -> None:
    assert parse_command(encode_crawl("36kr")).source == "36kr"
    assert parse_command(encode_crawl("36kr")).stop_reason is None
    stop = parse_command(encode_stop("36kr", "timed out after 20m"))
    assert (stop.source, stop.stop_reason) == ("36kr", "timed out after 20m")


@pytest.mark.parametrize("line", [b"", b"not json", b"[1]", b'{"start": "x"}', b'{"crawl": 3}'])
def test_a_line_that_is_no_command_is_refused(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_command(line)


def test_a_report_reads_as_the_crawl_commands_json_output() -> None:
    summary = {"run_id": 7, "sources": {"news": FIGURES}}
    errors = tuple(f"error {n}" for n in range(8))
    sent = CrawlReport("news", 0, summary, errors, rss_mb=123.456)
    line = encode_report(sent)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    got = parse_report(line)
    assert got.summary == summary and got.rss_mb == 123.5
    assert got.errors == errors[-5:]  # only the last few travel
    # What the daemon's polling code reads from it is what `followup crawl --json` prints.
    assert json.loads(got.stdout) == summary and got.stderr.endswith("error 7")
    report = read_run("news", got.returncode, got.stdout, got.stderr)
    assert report.ok and report.run_id == 7 and report.figures == FIGURES


def test_busy_and_bad_reports() -> None:
    assert parse_report(encode_report(CrawlReport("news", busy=True))).busy
    with pytest.raises(ProtocolError):
        parse_report(b'{"returncode": 0}')


def test_a_crawl_lost_with_its_worker_is_retried_soon_then_backs_off() -> None:
    lost = lost_report("news", 4242, -9)
    assert lost.lost and lost.errors == (
        "its worker (pid 4242) ended mid-crawl: killed by signal 9",
    )
    report = RunReport(error=lost.stderr, lost=True)
    state = SourceState("news", EVERY, last_success_at=NOW - EVERY)
    once = after_run(state, report, SOURCE, now=NOW, rand=lambda: 0)
    assert once.consecutive_failures == 1 and "pid 4242" in (once.last_error or "")
    assert once.next_run_at == NOW + LOST_RETRY
    # Lost again: perhaps the crawl is what kills its worker; it backs off like any failure.
    twice = after_run(once, report, SOURCE, now=NOW, rand=lambda: 0)
    assert twice.next_run_at == NOW + EVERY * 4
    # Never later than the source's own interval when that is shorter.
    short = SourceState("news", timedelta(seconds=5))
    assert after_run(short, report, SOURCE, now=NOW, rand=lambda: 0).next_run_at == NOW + (
        timedelta(seconds=5)
    )


def test_default_caps_follow_the_core_count() -> None:
    assert (default_max_crawls(1), default_workers(1)) == (2, 1)
    assert (default_max_crawls(8), default_workers(8)) == (16, 8)


def test_worker_command_carries_the_crawl_settings() -> None:
    options = DaemonOptions(
        seeds_dir=Path("/s"),
        db_path=Path("/d.db"),
        crawl_args=("-s", "DOWNLOAD_DELAY=0"),
        python="py",
    )
    assert options.worker_command() == [
        *("py", "-m", "crawler", "worker", "--seeds", "/s", "--db", "/d.db"),
        *("-s", "DOWNLOAD_DELAY=0"),
    ]
    assert options.crawl_command("news")[3:5] == ["crawl", "--seeds"]


@pytest.mark.parametrize(
    ("option", "value"), [("--max-crawls", "0"), ("--workers", "-1"), ("--recycle-above", "x")]
)
def test_bad_worker_options_exit_2_naming_the_option(option: str, value: str) -> None:
    result = CliRunner().invoke(cli, ["daemon", option, value])
    assert result.exit_code == 2 and option in result.output and "Traceback" not in result.output
