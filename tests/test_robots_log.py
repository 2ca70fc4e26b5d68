"""A host without network: robots.txt failures go to the log (-v), never as tracebacks."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import refused_port, run_followup, setting_args
from tests.sitecrawl import TOPIC


def test_unreachable_robots_txt_is_a_log_line_not_a_traceback(tmp_path: Path) -> None:
    with refused_port() as port:
        check_unreachable(f"http://127.0.0.1:{port}/feed.xml", tmp_path)


def check_unreachable(feed: str, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "sources.toml").write_text(
        f'[[source]]\nid = "offline"\nsite = "generic"\nfeeds = ["{feed}"]\n', encoding="utf-8"
    )
    (seeds / "topics.toml").write_text(TOPIC, encoding="utf-8")
    args = ["crawl", "--seeds", str(seeds), "--db", str(tmp_path / "f.db"), *setting_args()]

    quiet = run_followup(*args)
    assert quiet.returncode == 1  # the only source failed
    assert "Traceback" not in quiet.stderr
    assert "robots.txt" not in quiet.stderr
    assert f"cannot read {feed}" in quiet.stderr

    verbose = run_followup(*args, "-v")
    assert "Traceback" not in verbose.stderr
    robots = feed.replace("/feed.xml", "/robots.txt")
    assert f"cannot fetch {robots} (DownloadConnectionRefusedError" in verbose.stderr
