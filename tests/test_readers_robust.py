"""Readers never fail on what is already stored: year-9999 dates, control characters in titles,
line breaks in snippets (issue 9, point 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.model import Article
from crawler.store import Store

TEXT = "阿里腾讯互联互通的报道正文。" * 20


@pytest.fixture
def odd_db(tmp_path: Path) -> Path:
    """A database holding what older versions let in, written as they wrote it."""
    path = tmp_path / "odd.db"
    store = Store.open(path)
    with store.transaction():
        for number, (title, published) in enumerate(
            [
                ("九九九九\x1b[31m年\x00", "9999-12-31T23:59:59Z"),
                ("换行\n标题", "not a time"),
                ("正常", "2026-11-20T02:30:00Z"),
            ]
        ):
            url = f"https://x.example/{number}"
            store.save_article(
                Article(url, title, TEXT.replace("。", "。\n", number)),
                source="x",
                title_key=str(number),
                fingerprint=None,
                topics={"interop": ["阿里"]},
            )
            store.db.execute("UPDATE articles SET published_at = ? WHERE url = ?", [published, url])
    store.close()
    return path


@pytest.mark.parametrize("fmt", ["md", "atom", "csv", "json", "ndjson"])
def test_export_reads_every_stored_row(odd_db: Path, fmt: str) -> None:
    result = CliRunner().invoke(
        cli, ["export", "--db", str(odd_db), "--topic", "interop", "--format", fmt]
    )
    assert result.exit_code == 0, result.output
    assert "正常" in result.output
    if fmt in ("md", "atom"):
        assert "\x1b" not in result.output and "\x00" not in result.output
        assert "九九九九" in result.output and "31m" in result.output


def test_search_reads_every_stored_row(odd_db: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "互联互通", "--db", str(odd_db)])
    assert result.exit_code == 0, result.output
    assert "9999-12-31 23:59 (UTC+8)" in result.output
    assert "not a time" in result.output
    assert "换行 标题" in result.output
    # Every hit is four lines (title, facts, snippet, blank): no line break of the text leaks.
    assert len(result.output.splitlines()) == 4 * 3 - 1  # the last blank line is not printed
