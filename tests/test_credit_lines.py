"""Credit and chrome lines issue 10 added to crawler.text, and the `原标题` line."""

from __future__ import annotations

import pytest

from crawler.text import is_boilerplate, split_original_title, strip_boilerplate

BODY = "淘宝天猫已面向全部用户开放微信支付选项，消费者在收银台页面即可看到微信支付。"


@pytest.mark.parametrize(
    "line",
    [
        "文章来源：零售观察",
        "本文转载自公众号“电商在线”",
        "转载自新浪科技",
        "声明：本文转载自网络，版权归原作者所有，如有侵权请联系删除。",
        "【责任编辑：林晓】",
        "（完）",
        "(完)",
        "展开全文",
        "阅读全文",
        "点击阅读全文>>",
        "查看原文",
        "▲图片来源：视觉中国",
        "▲ 淘宝收银台页面（截图）",
        "*文章为作者独立观点，不代表本站立场。",
        "＊文章为作者独立观点，不代表虎嗅立场",
    ],
)
def test_new_credit_lines_are_dropped(line: str) -> None:
    assert is_boilerplate(line)
    assert strip_boilerplate(f"{BODY}\n{line}\n{BODY}") == f"{BODY}\n{BODY}"


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (BODY + "……阅读全文", BODY),
        (BODY + "…点击阅读全文>>", BODY),
        (BODY + "...查看全文", BODY),
        (BODY + " 阅读全文→", BODY),
        # Without an ellipsis, 点击 or an arrow, the words are the sentence's own.
        ("感兴趣的读者可以阅读全文", "感兴趣的读者可以阅读全文"),
    ],
)
def test_a_read_more_tail_is_cut_off_a_paragraph(line: str, kept: str) -> None:
    assert strip_boilerplate(line) == kept


def test_a_related_reading_block_is_dropped_up_to_the_next_paragraph() -> None:
    text = "\n".join(
        [
            BODY,
            "相关阅读：",
            "淘宝接入微信支付，第一周发生了什么",
            "支付宝回应：对外开放是长期战略",
            BODY * 2,
        ]
    )
    assert strip_boilerplate(text) == f"{BODY}\n{BODY * 2}"
    for heading in ("【相关阅读】", "延伸阅读", "推荐阅读:"):
        assert strip_boilerplate(f"{BODY}\n{heading}\n短标题") == BODY


def test_a_related_reading_block_ends_after_ten_headlines() -> None:
    headlines = [f"第{n}条相关新闻的标题" for n in range(12)]
    kept = strip_boilerplate("\n".join([BODY, "相关阅读", *headlines]))
    assert kept.split("\n") == [BODY, *headlines[10:]]


def test_quoting_the_phrases_inside_content_keeps_the_line() -> None:
    for line in ("他在声明中表示，本文转载自哪里并不重要", "相关阅读量在一周内翻了一番，" + BODY):
        assert strip_boilerplate(line) == line


@pytest.mark.parametrize(
    ("text", "title", "rest"),
    [
        (f"原标题：《淘宝接入微信支付》\n{BODY}", "淘宝接入微信支付", BODY),
        (f"原标题:淘宝接入微信支付\n{BODY}", "淘宝接入微信支付", BODY),
        (f"{BODY}\n原文标题：阿里腾讯破冰", "阿里腾讯破冰", BODY),
        (BODY, "", BODY),
        (f"{BODY}\n{BODY}\n{BODY}\n原标题：太靠后", "", f"{BODY}\n{BODY}\n{BODY}\n原标题：太靠后"),
    ],
)
def test_split_original_title(text: str, title: str, rest: str) -> None:
    assert split_original_title(text) == (title, rest)


def test_the_original_title_line_stays_in_the_stored_text() -> None:
    # It tells a reader where a story came from; ingest keeps it out of the fingerprint.
    assert (
        strip_boilerplate(f"原标题：淘宝接入微信支付\n{BODY}")
        == f"原标题：淘宝接入微信支付\n{BODY}"
    )
