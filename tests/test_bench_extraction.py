"""Measurement 8 (bench/extraction.py): which pages it times, and what makes it refuse a run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.context import BenchError
from bench.extraction import (
    BASELINE_REF,
    DEMO_SITES,
    PageCase,
    Timing,
    _keep_fastest,
    baseline_available,
    check_same_articles,
    export_crawler,
    recorded_cases,
)
from crawler.sites import SITES


def test_recorded_cases_are_every_sites_article_pages(tmp_path: Path) -> None:
    cases = recorded_cases(DEMO_SITES, tmp_path)
    assert {case.site for case in cases} == set(SITES) - {"generic"}
    for case in cases:
        assert SITES[case.site].matches_url(case.url), case.url  # no feeds, lists or shells
        assert Path(case.file).stat().st_size > 0 and case.origin == "recorded"


def test_a_page_extracted_differently_refuses_the_run() -> None:
    cases = [PageCase("caijing", "https://a.example/1", "f1", "", "recorded")]
    check_same_articles(cases, {"f1": Timing(1.0, "x")}, {"f1": Timing(0.5, "x")})
    with pytest.raises(BenchError, match=re.escape("https://a.example/1")):
        check_same_articles(cases, {"f1": Timing(1.0, "x")}, {"f1": Timing(0.5, "y")})


def test_rounds_keep_each_pages_fastest_time() -> None:
    kept: dict[str, Timing] = {}
    _keep_fastest(kept, {"a": Timing(2.0, "d"), "b": Timing(1.0, "d")})
    _keep_fastest(kept, {"a": Timing(1.5, "d"), "b": Timing(3.0, "d")})
    assert kept == {"a": Timing(1.5, "d"), "b": Timing(1.0, "d")}


@pytest.mark.skipif(
    not baseline_available(), reason=f"this checkout lacks commit {BASELINE_REF} (shallow clone?)"
)
def test_the_baseline_is_exported_from_git(tmp_path: Path) -> None:
    export_crawler(BASELINE_REF, tmp_path)
    assert (tmp_path / "crawler" / "sites" / "niaogebiji.py").is_file()
    assert not (tmp_path / "bench").exists()


def test_an_unknown_baseline_says_why(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="git archive no-such-ref failed"):
        export_crawler("no-such-ref", tmp_path)
