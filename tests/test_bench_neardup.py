"""Bench measurement 6 with `--real DIR`: texts read from a directory at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.neardup.corpus import load_articles
from tests.neardup.tiers import load_real_articles
from tests.test_bench import REPO, numbers, table_rows


def write_feed(directory: Path) -> None:
    """An RSS file of the corpus's own articles, as a directory of real feeds would hold them."""
    items = "".join(
        f"<item><title>{a.title}</title><description><![CDATA["
        + "".join(f"<p>{p}</p>" for p in a.body.split("\n"))
        + "]]></description></item>"
        for a in load_articles()
    )
    (directory / "feed.xml").write_text(
        f'<?xml version="1.0" encoding="utf-8"?><rss><channel>{items}</channel></rss>',
        encoding="utf-8",
    )
    (directory / "one.txt").write_text(
        "# 标题\n**编辑：某某**\n\n" + "这是一段足够长的正文。" * 60 + "\n", encoding="utf-8"
    )


def test_real_texts_are_read_from_feeds_and_text_files(tmp_path: Path) -> None:
    write_feed(tmp_path)
    articles = load_real_articles(tmp_path)
    assert len(articles) == len(load_articles()) + 1
    assert articles[0].title == load_articles()[0].title
    assert not any("编辑" in a.body for a in articles)


def test_measurement_6_on_a_directory_of_texts(tmp_path: Path) -> None:
    write_feed(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "6", "--real", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = table_rows(result.stdout)
    real = [
        name
        for name in rows
        if name.startswith(f"6a. Near-duplicate recall, real texts in {tmp_path.name}")
    ]
    assert len(real) == 1 and "11 articles" in real[0]
    recall, precision, *_ = numbers(rows[real[0]][0])
    assert 0 <= recall <= 1 and 0 <= precision <= 1


def test_real_must_be_a_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "6", "--real", str(tmp_path / "none")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "--real" in result.stderr and "not a directory" in result.stderr
    assert "Traceback" not in result.stderr
