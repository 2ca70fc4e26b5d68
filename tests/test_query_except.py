"""EXCEPT in the topic query language: a term not read inside a longer word."""

from __future__ import annotations

import pytest

from crawler.query import QuerySyntaxError, parse_query
from crawler.text import normalize


def match(query: str, text: str) -> list[str] | None:
    return parse_query(query).match(normalize(text))


def test_a_term_inside_an_excluded_word_does_not_count() -> None:
    assert match("微信支付 EXCEPT 微信支付宝", "用户可以用微信支付宝付款") is None
    assert match("微信支付 EXCEPT 微信支付宝", "淘宝接入微信支付") == ["微信支付"]


def test_a_real_occurrence_beside_an_excluded_one_counts() -> None:
    # Unlike NOT 微信支付宝, which would drop this text.
    text = "微信支付宝都能用的店越来越多，淘宝也接入了微信支付"
    assert match("微信支付 EXCEPT 微信支付宝", text) == ["微信支付"]
    assert match("微信支付 NOT 微信支付宝", text) is None


def test_several_excluded_words_and_a_prefix() -> None:
    query = "支付 EXCEPT 支付宝 EXCEPT 微信支付"
    assert match(query, "微信支付和支付宝") is None
    assert match(query, "移动支付普及") == ["支付"]
    assert match("支付宝 EXCEPT 花呗支付宝", "花呗支付宝") is None  # the term ends the word


def test_except_binds_to_its_term_inside_and_or() -> None:
    query = "(阿里 OR 淘宝) AND (拆墙 OR 微信支付 EXCEPT 微信支付宝)"
    assert match(query, "淘宝门店里微信支付宝都能用") is None
    assert match(query, "淘宝接入微信支付") == ["淘宝", "微信支付"]
    assert match(query, "淘宝拆墙，微信支付宝") == ["淘宝", "拆墙"]


def test_ascii_terms_keep_their_word_boundaries() -> None:
    query = "AI EXCEPT OpenAI"
    assert match(query, "OpenAI 发布新模型") is None
    assert match(query, "OpenAI 与 AI 创业公司") == ["ai"]
    assert match(query, "said nothing") is None


def test_the_term_is_reported_once_whatever_its_exclusions() -> None:
    assert parse_query("微信支付 EXCEPT 微信支付宝 OR 微信支付").terms == ("微信支付",)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("微信支付 EXCEPT 支付宝", '"支付宝" at position 13 does not contain "微信支付"'),
        ("微信支付 EXCEPT 微信支付", 'does not contain "微信支付"'),
        ("(微信支付) EXCEPT 微信支付宝", '"EXCEPT" at position 8 must follow a term'),
        ("EXCEPT 微信支付宝", '"EXCEPT" at position 1 has no term before it'),
        ("微信支付 EXCEPT", '"EXCEPT" at position 6 has no term after it'),
        ("微信支付 EXCEPT (微信支付宝)", '"(" at position 13 follows "EXCEPT"'),
    ],
)
def test_misplaced_except_is_a_clear_error(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message.replace("(", r"\(")):
        parse_query(query)


def test_lower_case_except_is_a_term() -> None:
    assert match("x except y", "x except y") == ["x", "except", "y"]
