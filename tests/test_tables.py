"""One table renderer (crawler.tables) for the crawl report, status, query and notify listings."""

from __future__ import annotations

from crawler.notify.listing import format_undelivered
from crawler.report import format_summary
from crawler.tables import clip, display_width, format_table


def _column_start(line: str, cell: str) -> int:
    """The display column at which cell starts in line."""
    return display_width(line[: line.index(cell)])


def test_wide_characters_count_two_columns() -> None:
    lines = format_table(["title", "n"], [["微信支付", "1"], ["ab", "22"]]).splitlines()
    assert [
        _column_start(line, cell) for line, cell in zip(lines, ["n", "1", "22"], strict=True)
    ] == [10] * 3


def test_right_aligned_columns_rule_and_clipping() -> None:
    table = format_table(["source", "new"], [["huxiu", "7"], ["36kr", "120"]], right=[1], rule=True)
    assert table.splitlines() == [
        "source  new",
        "------  ---",
        "huxiu     7",
        "36kr    120",
    ]
    clipped = format_table(["t"], [["淘宝" * 40]], clip_width=10).splitlines()
    assert clipped == ["t", "淘宝淘宝…"]
    assert clip("两行\n文字") == "两行 文字" and display_width(clip("淘宝" * 40, 10)) <= 10


def test_no_line_ends_in_blanks() -> None:
    table = format_table(["a", "b"], [["x", ""], ["", ""]])
    assert all(line == line.rstrip() for line in table.splitlines())


def test_the_crawl_report_right_aligns_its_figures() -> None:
    figures = dict.fromkeys(
        ("lists_read", "entries", "new", "baseline", "duplicates", "irrelevant"), 0
    )
    figures |= dict.fromkeys(("already_seen", "blocked", "failed", "lists_failed"), 0)
    summary = {"huxiu": {**figures, "new": 12}, "36kr": {**figures, "lists_read": 1}}
    header, *rows = format_summary(summary).splitlines()
    assert header.startswith("source") and header.endswith("status")
    end_of_new = header.index("new") + len("new")
    assert rows[0][:end_of_new].endswith("12") and rows[1][:end_of_new].endswith(" 0")


def test_undelivered_notifications_align_after_a_chinese_title() -> None:
    row = {
        "id": 1,
        "target": "team",
        "kind": "article",
        "attempts": 2,
        "status": "pending",
        "next_attempt_at": "2026-11-29T10:00:00Z",
        "event": None,
        "period_end": None,
        "last_error": "HTTP 500",
    }
    lines = format_undelivered(
        [{**row, "title": "微信可以直接打开淘宝链接了"}, {**row, "id": 2, "title": "Alipay"}]
    ).splitlines()
    assert _column_start(lines[1], "HTTP 500") == _column_start(lines[2], "HTTP 500")
    assert _column_start(lines[0], "error") == _column_start(lines[1], "HTTP 500")
