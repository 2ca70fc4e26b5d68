"""What notifications say and how they are cut to size: pure functions, no network."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from crawler.notify.health import Problem, diff_health
from crawler.notify.messages import HealthEvent, Message, digest_period, fit, split_bytes
from crawler.notify.targets import Target

WECOM_BYTES = 2048


def sizes(pieces: list[str]) -> list[int]:
    return [len(piece.encode("utf-8")) for piece in pieces]


def test_chinese_text_is_split_by_bytes_never_inside_a_character() -> None:
    # 1000 three-byte characters on one line: 3000 bytes, twice WeCom's limit of bytes,
    # though only 1000 characters (Apprise would count 1000 and send it whole).
    line = "互联互通" * 250
    pieces = split_bytes(line, WECOM_BYTES)
    assert sizes(pieces) == [2046, 954]  # 682 characters fit, not 682.67
    assert "".join(pieces) == line
    for piece in pieces:
        piece.encode("utf-8").decode("utf-8")  # whole characters only


def test_pieces_end_at_line_ends_where_a_line_fits() -> None:
    lines = [f"第{n}行：" + "淘宝链接在微信里打开" * 10 for n in range(30)]
    pieces = split_bytes("\n".join(lines), WECOM_BYTES)
    assert len(pieces) > 1 and max(sizes(pieces)) <= WECOM_BYTES
    assert all(piece.split("\n")[0] in lines for piece in pieces)  # each starts a line
    assert "\n".join(pieces) == "\n".join(lines)


def test_mixed_widths_and_four_byte_characters() -> None:
    text = ("a😀中" * 700) + "\n" + "b" * 5000
    pieces = split_bytes(text, WECOM_BYTES)
    assert max(sizes(pieces)) <= WECOM_BYTES
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_a_limit_too_small_for_a_character_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold every UTF-8 character"):
        split_bytes("中", 3)


def test_fit_sends_title_and_body_together_in_numbered_parts() -> None:
    message = Message("标题：互联互通", "正文" * 2000)
    assert fit(message, None) == [message]
    parts = fit(message, WECOM_BYTES)
    assert len(parts) == 6 and all(part.title == "" for part in parts)
    assert max(len(part.body.encode("utf-8")) for part in parts) <= WECOM_BYTES
    assert parts[0].body.startswith("(1/6)\n标题：互联互通\n正文")
    assert parts[5].body.startswith("(6/6)\n正文")
    short = fit(Message("标题", "正文"), WECOM_BYTES)
    assert short == [Message("", "标题\n正文")]


def target(every: timedelta, at: time) -> Target:
    return Target(
        "d", "json://h.example/x", "json://h.example/***", mode="digest", every=every, at=at
    )


@pytest.mark.parametrize(
    ("moment", "every", "at", "start", "end"),
    [
        # 08:29 Beijing on the 29th is still in the period that ends at 08:30 that day.
        (
            "2026-11-29T00:29:00",
            timedelta(days=1),
            time(8, 30),
            "2026-11-28T00:30",
            "2026-11-29T00:30",
        ),
        (
            "2026-11-29T00:30:00",
            timedelta(days=1),
            time(8, 30),
            "2026-11-29T00:30",
            "2026-11-30T00:30",
        ),
        # Twice a day at 08:30 and 20:30 Beijing.
        (
            "2026-11-29T05:00:00",
            timedelta(hours=12),
            time(8, 30),
            "2026-11-29T00:30",
            "2026-11-29T12:30",
        ),
        # Weekly: on Mondays (2026-11-30 is a Monday) at 09:00 Beijing.
        (
            "2026-11-29T05:00:00",
            timedelta(weeks=1),
            time(9, 0),
            "2026-11-23T01:00",
            "2026-11-30T01:00",
        ),
    ],
)
def test_digest_periods_end_at_the_beijing_time_of_day(
    moment: str, every: timedelta, at: time, start: str, end: str
) -> None:
    now = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    begins, ends = digest_period(now, target(every, at))
    assert (begins.isoformat()[:16], ends.isoformat()[:16]) == (start, end)


def test_health_changes_are_announced_once_each() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    failing = Problem("kr36", "failing", "kr36: failing for 7h", "2026-11-28T17:00:00Z")
    overdue = Problem("huxiu", "overdue", "huxiu: its run was due 7h ago")

    started = diff_health([failing, overdue], [], now=now)
    assert [(e.source, e.state, e.since) for e in started] == [
        ("kr36", "start", "2026-11-28T17:00:00Z"),
        ("huxiu", "start", "2026-11-29T00:00:00Z"),  # no start time known: now
    ]
    # Reported again with a longer duration in its detail: nothing new to say.
    again = Problem("kr36", "failing", "kr36: failing for 9h", failing.since)
    assert diff_health([again, overdue], started, now=now) == []
    # kr36 recovered.
    (cleared,) = diff_health([overdue], started, now=now)
    assert cleared == HealthEvent("kr36", "failing", "kr36: failing for 7h", "clear", failing.since)
