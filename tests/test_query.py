from __future__ import annotations

import dataclasses
import itertools

import pytest

from crawler.query import Query, QuerySyntaxError, parse_query
from crawler.text import normalize

DEFAULT_TOPIC = (
    "(阿里 OR 阿里巴巴 OR 淘宝 OR 天猫 OR 支付宝 OR 淘特 OR 闲鱼) AND (腾讯 OR 微信) AND "
    "(互联互通 OR 互通互联 OR 拆墙 OR 屏蔽 OR 封禁 OR 外链 OR 外部链接 OR 微信支付 OR 微信扫码 "
    "OR 生态开放 OR 互相开放 OR 破冰)"
)


def matches(query: str, raw_text: str) -> list[str] | None:
    return parse_query(query).match(normalize(raw_text))


def truth_table(query: str, words: str) -> list[bool]:
    """Whether `query` matches a text made of each subset of the space-separated `words`."""
    parsed = parse_query(query)
    vocabulary = words.split()
    return [
        parsed.match(" ".join(subset)) is not None
        for size in range(len(vocabulary) + 1)
        for subset in itertools.combinations(vocabulary, size)
    ]


@pytest.mark.parametrize(
    ("query", "same_as", "not_same_as"),
    [
        ("a OR b AND c", "a OR (b AND c)", "(a OR b) AND c"),
        ("a AND b OR c", "(a AND b) OR c", "a AND (b OR c)"),
        ("a OR b c", "a OR (b AND c)", "(a OR b) AND c"),
        ("a b OR c", "(a AND b) OR c", "a AND (b OR c)"),
        ("NOT a AND b", "(NOT a) AND b", "NOT (a AND b) AND (a OR b)"),
        ("b NOT a OR c", "(b AND (NOT a)) OR c", "b AND NOT (a OR c)"),
        ("(a OR b) c", "(a OR b) AND c", "a OR b AND c"),
    ],
)
def test_precedence_not_over_and_over_or(query: str, same_as: str, not_same_as: str) -> None:
    assert truth_table(query, "a b c") == truth_table(same_as, "a b c")
    assert truth_table(query, "a b c") != truth_table(not_same_as, "a b c")


def test_adjacent_operands_are_anded() -> None:
    assert matches("阿里 腾讯", "阿里和腾讯") == ["阿里", "腾讯"]
    assert matches("阿里 腾讯", "只有阿里") is None
    assert matches("阿里 (腾讯 OR 微信)", "阿里和微信") == ["阿里", "微信"]


def test_not_excludes_a_text_containing_the_term() -> None:
    assert matches("腾讯 NOT 广告", "腾讯发布新游戏") == ["腾讯"]
    assert matches("腾讯 NOT 广告", "腾讯发布广告") is None
    assert matches("腾讯 AND NOT (广告 OR 推广)", "腾讯推广活动") is None
    assert matches("腾讯 AND NOT (广告 OR 推广)", "腾讯财报") == ["腾讯"]


def test_double_not_requires_the_term() -> None:
    assert matches("腾讯 NOT NOT 微信", "腾讯与微信") == ["腾讯"]
    assert matches("腾讯 NOT NOT 微信", "腾讯财报") is None


def test_phrase_whitespace_matches_any_run_of_whitespace() -> None:
    query = parse_query('"open   ai"')
    assert query.terms == ("open ai",)
    assert query.match(normalize("Open AI 发布")) == ["open ai"]
    assert query.match(normalize("open \t\n  ai")) == ["open ai"]
    assert query.match(normalize("open　ai")) == ["open ai"]  # ideographic space
    assert query.match(normalize("openai")) is None
    assert query.match(normalize("reopen ai")) is None


def test_phrase_may_contain_operator_words() -> None:
    query = parse_query('"rock AND roll" OR "NOT (this)"')
    assert query.terms == ("rock and roll", "not (this)")
    assert query.match(normalize("Rock and Roll")) == ["rock and roll"]
    assert query.match(normalize("rock roll")) is None
    assert query.match(normalize("not (this)")) == ["not (this)"]


def test_lower_case_operator_words_are_terms() -> None:
    query = parse_query("cats and dogs or not")
    assert query.terms == ("cats", "and", "dogs", "or", "not")
    assert query.match("cats and dogs or not") is not None
    assert query.match("cats dogs") is None


@pytest.mark.parametrize(
    ("query", "raw_text", "expected"),
    [
        ("ＡＩ", "ai", ["ai"]),
        ("ai", "ＡＩ芯片", ["ai"]),
        ("OpenAI", "OPENAI 发布", ["openai"]),
        ("微信支付", "淘宝接入微信支付", ["微信支付"]),
        ("５Ｇ", "5G 手机", ["5g"]),
        ("（阿里 OR 淘宝） AND 腾讯", "淘宝与腾讯", ["淘宝", "腾讯"]),
        ("阿里 ＡＮＤ 腾讯", "阿里与腾讯", ["阿里", "腾讯"]),
        ("＂open ai＂", "open ai", ["open ai"]),
    ],
)
def test_width_and_case_do_not_matter(query: str, raw_text: str, expected: list[str]) -> None:
    assert matches(query, raw_text) == expected


def test_full_width_operators_and_parentheses_are_syntax() -> None:
    query = parse_query("（阿里 OR 淘宝） ＡＮＤ 腾讯")
    assert query.terms == ("阿里", "淘宝", "腾讯")
    assert query.match(normalize("阿里财报")) is None


@pytest.mark.parametrize(
    ("term", "raw_text", "found"),
    [
        ("ai", "he said", False),
        ("ai", "paid content", False),
        ("ai", "ai2", False),
        ("ai", "AI芯片", True),
        ("ai", "（ai）", True),
        ("ai", "用ai写稿", True),
        ("ai", "ai", True),
        ("ai", "ai_model", True),
        ("ai", "said ai", True),
        ("5g", "15g", False),
        ("5g", "5g手机", True),
        ("ai芯片", "bai芯片", False),
        ("ai芯片", "ai芯片组", True),
        ("芯片ai", "芯片aid", False),
        ("芯片ai", "芯片ai", True),
        ("芯片", "ai芯片组", True),
        ('"open ai"', "open aid", False),
    ],
)
def test_ascii_terms_are_not_glued_to_ascii_letters_or_digits(
    term: str, raw_text: str, found: bool
) -> None:
    assert (matches(term, raw_text) is not None) is found


def test_matched_terms_follow_query_order_without_duplicates() -> None:
    query = parse_query("(微信 OR 腾讯) AND (腾讯 OR 阿里)")
    assert query.match(normalize("阿里与腾讯，还有微信")) == ["微信", "腾讯", "阿里"]
    assert query.match(normalize("阿里与腾讯")) == ["腾讯", "阿里"]


def test_matched_terms_include_every_positive_term_found() -> None:
    assert matches("(a AND b) OR c", "a c") == ["a", "c"]


def test_matched_terms_and_terms_exclude_not_terms() -> None:
    query = parse_query("腾讯 NOT (广告 OR 腾讯视频) NOT NOT 微信")
    assert query.terms == ("腾讯",)
    assert query.match(normalize("腾讯与微信")) == ["腾讯"]


def test_terms_are_distinct_and_in_query_order() -> None:
    assert parse_query("b OR a OR (b AND c) NOT d").terms == ("b", "a", "c")


def test_query_is_a_frozen_value() -> None:
    query = parse_query("阿里 腾讯")
    assert isinstance(query, Query)
    assert query.source == "阿里 腾讯"
    assert query == parse_query("阿里 腾讯")
    assert query != parse_query("阿里 OR 腾讯")
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.source = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty query at position 1"),
        ("   ", "empty query at position 1"),
        ("a AND", '"AND" at position 3 has no term after it'),
        ("a OR", '"OR" at position 3 has no term after it'),
        ("AND a", '"AND" at position 1 has no term before it'),
        ("(OR a)", '"OR" at position 2 has no term before it'),
        ("a AND OR b", '"OR" at position 7 follows "AND" at position 3'),
        ("NOT", '"NOT" at position 1 has no term after it'),
        ("a NOT", '"NOT" at position 3 has no term after it'),
        ("(a OR)", '"OR" at position 4 has no term after it'),
        ("()", "empty parentheses at position 1"),
        ("a ( ) b", "empty parentheses at position 3"),
        ('a "open ai', "unterminated quote at position 3"),
        ('a "', "unterminated quote at position 3"),
        ('a ""', "empty phrase at position 3"),
        ('a "  "', "empty phrase at position 3"),
        ("(a", 'unclosed "(" at position 1'),
        ("a (", 'unclosed "(" at position 3'),
        ("（阿里 OR 淘宝", 'unclosed "(" at position 1'),
        ("a)", 'unbalanced ")" at position 2'),
        (") a", 'unbalanced ")" at position 1'),
        ("(a OR b)) AND c", 'unbalanced ")" at position 9'),
        ("NOT a", '"NOT" at position 1 lets the query match a text that has none of its terms'),
        ("a OR NOT b", '"NOT" at position 6 lets the query match'),
    ],
)
def test_syntax_errors_name_the_problem_position_and_fix(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as excinfo:
        parse_query(query)
    assert str(excinfo.value).startswith(message)
    assert ": " in str(excinfo.value)  # the fix follows the colon
    assert isinstance(excinfo.value, ValueError)


def test_default_topic_matches_a_paragraph_about_taobao_accepting_wechat_pay() -> None:
    paragraph = (
        "淘宝近日宣布正式接入微信支付，用户在淘宝下单时可以选择微信扫码付款。"
        "业内人士认为，这是阿里与腾讯互联互通的又一步。"
    )
    assert matches(DEFAULT_TOPIC, paragraph) == [
        "阿里",
        "淘宝",
        "腾讯",
        "微信",
        "互联互通",
        "微信支付",
        "微信扫码",
    ]


def test_default_topic_ignores_alibaba_cloud_earnings() -> None:
    paragraph = (
        "阿里巴巴发布最新季度财报，阿里云收入同比增长，人工智能相关产品收入连续多个季度"
        "保持三位数增长。公司表示将继续加大对云基础设施的投入，并开放更多模型服务。"
    )
    assert matches(DEFAULT_TOPIC, paragraph) is None
    # Only the missing 腾讯/微信 keeps it out: the same text with 微信支付 added would match.
    assert matches(DEFAULT_TOPIC, paragraph + "淘宝支持微信支付。") is not None
