"""Bench measurement 6 with `--real DIR`: texts read from a directory at run time (the quick
benchmark in tests/test_bench.py runs it on such a directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run import main as bench_main
from tests.neardup.corpus import load_articles
from tests.neardup.tiers import load_real_articles
from tests.test_bench import write_feed


def test_real_texts_are_read_from_feeds_and_text_files(tmp_path: Path) -> None:
    write_feed(tmp_path)
    articles = load_real_articles(tmp_path)
    assert len(articles) == len(load_articles()) + 1
    assert articles[0].title == load_articles()[0].title
    assert not any("编辑" in a.body for a in articles)


def test_real_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        bench_main(["--only", "6", "--real", str(tmp_path / "none")])
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert "--real" in stderr and "not a directory" in stderr
