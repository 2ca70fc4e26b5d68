"""huxiu specifics the per-site harness does not pin down: URLs, the feed rule, the Nuxt payload."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.extract import Blocked, extract_article
from crawler.model import Document, Entry
from crawler.sites import get_site, site_for_url
from crawler.sites.huxiu import body_text, drop_repeated_lead, parse_body
from crawler.sites.parsing import NuxtDataError, NuxtPayload

SITE = get_site("huxiu")
PAGES = Path(__file__).parents[1] / "crawler" / "demo" / "sites" / "huxiu" / "www.huxiu.com"
PARAGRAPH = "<p>微信群里的淘宝链接能直接打开了，但下单仍要跳回App，这一步的流失并不小。</p>"
LONG_BODY = PARAGRAPH * 12  # well over the 400 characters of a full-text description


# URLs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://www.huxiu.com/article/4904127.html?f=rss",
        "https://m.huxiu.com/article/4904127.html",
        "https://huxiu.com/article/4904127.html?f=wangzhan&utm_source=x",
        "http://WWW.HUXIU.COM/article/4904127.html#comments",
    ],
)
def test_canonical_url_folds_hosts_and_queries(url: str) -> None:
    assert SITE.canonical_url(url) == "https://www.huxiu.com/article/4904127.html"


def test_canonical_url_leaves_a_local_mirror_address_on_its_host() -> None:
    local = "http://127.0.0.1:8123/article/4904127.html?f=rss"
    assert SITE.canonical_url(local) == "http://127.0.0.1:8123/article/4904127.html"


def test_canonical_url_of_other_pages_is_generic() -> None:
    assert (
        SITE.canonical_url("https://www.huxiu.com/moment/?f=rss") == "https://www.huxiu.com/moment/"
    )
    assert SITE.canonical_url("https://www.huxiu.com/article/x.html") == (
        "https://www.huxiu.com/article/x.html"
    )


def test_article_urls_pick_this_site() -> None:
    assert site_for_url("https://m.huxiu.com/article/4904127.html").id == "huxiu"
    assert not SITE.matches_url("https://www.huxiu.com/moment/")


# Feed ------------------------------------------------------------------------------------------


def _entry(html: str, *, kind: str = "article", author: str = "周以宁") -> Entry:
    return Entry(
        "https://www.huxiu.com/article/1.html",
        "标题",
        author,
        datetime(2026, 11, 16, tzinfo=UTC),
        html,
        kind,
    )


def test_a_long_description_is_the_article() -> None:
    article = SITE.feed_article(_entry(LONG_BODY))
    assert article is not None
    assert article.text.count("\n") == 11 and article.author == "周以宁"


def test_a_video_article_is_always_fetched_however_long_its_lead() -> None:
    assert SITE.feed_article(_entry(LONG_BODY, kind="video_article")) is None


def test_a_short_description_is_a_teaser() -> None:
    assert SITE.feed_article(_entry(PARAGRAPH * 2)) is None


def test_feed_author_falls_back_to_the_credit_line() -> None:
    credits = '<p><span class="text-remarks">作者｜苏禾<br></span></p>'
    article = SITE.feed_article(_entry(credits + LONG_BODY, author=""))
    assert article is not None and article.author == "苏禾"
    assert "作者" not in article.text


# Body markup -----------------------------------------------------------------------------------


def test_body_drops_credits_captions_and_licence_but_keeps_inline_remarks() -> None:
    html = (
        '<p><span class="text-remarks" label="备注">出品｜虎嗅科技组<br></span></p>'
        '<p><span class="text-remarks" label="备注">头图｜AI生成</span></p>'
        '<p class="text-normal">上一次<span class="text-remarks" label="备注">（9月17日）</span>'
        "微信放开了私聊里的外链。</p>"
        '<h3 class="text-big-title">能点开，不等于能买到</h3>'
        '<p class="img-center-box"><img class="lazyImg" _src="https://img.huxiucdn.com/a.png"></p>'
        '<p label="图片备注" class="text-img-note">图：聊天窗口里的商品页</p>'
        '<p class="text-normal"><span class="text-remarks">（虎嗅注：数据截至11月）</span></p>'
        '<div class="neirong-shouquan"><span>本文由 周以宁 授权 虎嗅 发表</span></div>'
        '<div class="neirong-shouquan-public"><b>下载虎嗅App</b></div>'
    )
    assert body_text(parse_body(html)).splitlines() == [
        "上一次（9月17日）微信放开了私聊里的外链。",
        "能点开，不等于能买到",
        "（虎嗅注：数据截至11月）",  # a remark that is not a credit is the editor speaking: kept
    ]


def test_a_lead_repeating_the_opening_is_dropped() -> None:
    lines = [
        "北大的一位教授今天成了话题。早上的群聊里几乎只在说这件......",
        "北大的一位教授今天成了话题。",
        "早上的群聊里几乎只在说这件事，批评的多，辩护的也有。",
    ]
    assert drop_repeated_lead(lines) == lines[1:]


def test_a_first_line_with_an_ellipsis_of_its_own_is_kept() -> None:
    lines = ["他停顿了一下，说：这件事还没完……", "第二天，会议照常举行。"]
    assert drop_repeated_lead(lines) == lines


# Nuxt payload (devalue) ------------------------------------------------------------------------


def test_payload_resolves_wrappers_and_typed_values() -> None:
    values = [
        ["ShallowReactive", 1],
        {"a": 2, "when": 4, "seen": 5, "refs": 7, "big": 8, "map": 9, "bare": 10, "missing": -1},
        ["Reactive", 3],
        ["Ref", 11],
        ["Date", "2026-11-16T02:12:00.000Z"],
        ["Set", 6, 6],
        "4904127",
        {"empty": 12, "unset": 13, "zero": 14, "falsy": 15},
        ["BigInt", "12345678901234567890"],
        ["Map", 6, 11],
        ["null", "k", 11],
        "值",
        ["EmptyRef", 16],
        ["EmptyShallowRef", 17],
        ["EmptyRef", 18],
        ["EmptyRef", 19],
        "null",
        "_",
        "0n",
        "false",
    ]
    root = NuxtPayload(values).root()
    assert root["a"] == "值"
    assert root["when"] == datetime(2026, 11, 16, 2, 12, tzinfo=UTC)
    assert root["seen"] == ["4904127", "4904127"]
    assert root["refs"] == {"empty": None, "unset": None, "zero": 0, "falsy": False}
    assert root["big"] == 12345678901234567890
    assert root["map"] == {"4904127": "值"} and root["bare"] == {"k": "值"}
    assert root["missing"] is None


def test_payload_special_numbers() -> None:
    payload = NuxtPayload([[-3, -4, -5, -6, -2]])
    nan, inf, neg_inf, neg_zero, hole = payload.root()
    assert math.isnan(nan) and inf == math.inf and neg_inf == -math.inf
    assert neg_zero == 0 and math.copysign(1, neg_zero) == -1 and hole is None


def test_payload_numbers_are_references_not_values() -> None:
    # Inside objects 2 and 3 are indexes: the dateline is the text at 2, the count the number at 3.
    values = [{"d": 1}, {"dateline": 2, "count": 3}, "1794795120", 3.5]
    assert NuxtPayload(values).root() == {"d": {"dateline": "1794795120", "count": 3.5}}


def test_payload_shares_one_object_for_one_index() -> None:
    root = NuxtPayload([{"a": 1, "b": 1}, {"username": 2}, "周以宁"]).root()
    assert root["a"] is root["b"]


def test_payload_cycles_between_objects_resolve() -> None:
    root = NuxtPayload([{"self": 0, "list": 1}, [0, 2], "x"]).root()
    assert root["self"] is root and root["list"][0] is root


def test_payload_cycle_through_a_wrapper_is_an_error() -> None:
    with pytest.raises(NuxtDataError, match="cycle"):
        NuxtPayload([["Reactive", 1], ["Ref", 0]]).root()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"a": 5}]', "beyond"),
        ("{}", "non-empty JSON array"),
        ("[", "not JSON"),
        ('[{"a": "x"}]', "not an index"),
        ('[["BigInt", "12x"]]', "malformed BigInt"),
    ],
)
def test_malformed_payloads_raise(text: str, message: str) -> None:
    with pytest.raises(NuxtDataError, match=message):
        NuxtPayload.from_json(text).root()


def test_find_key_resolves_only_the_article_detail() -> None:
    values = [
        {"other": 1, "articleDetail-42": 2},
        ["Ref", 1],
        ["ShallowReactive", 3],
        {"articleDetail": 4},
        {},
    ]
    assert list(NuxtPayload(values).find_key("articleDetail-")) == [
        ("articleDetail-42", {"articleDetail": {}})
    ]


# Page fallbacks --------------------------------------------------------------------------------


def _nuxt_script(values: list[object]) -> str:
    text = json.dumps(values, ensure_ascii=False).replace("<", "\\u003C")
    return f'<script type="application/json" id="__NUXT_DATA__">{text}</script>'


def _page(body: str, *, title: str = "一篇文章-虎嗅网") -> Document:
    return Document(
        "https://www.huxiu.com/article/1.html",
        f"<html><head><title>{title}</title></head><body>{body}</body></html>",
    )


DOM_BODY = (
    '<h1 class="article__title">旧版页面的标题</h1><span class="article__time">2026-11-14 18:30</span>'
    '<div class="article__content"><p><span class="text-remarks">作者｜顾远</span></p>'
    + LONG_BODY
    + "</div>"
)


def test_nuxt_payload_with_an_integer_dateline() -> None:
    detail = {"title": 2, "content": 3, "dateline": 4, "user_info": 5}
    values = [
        {"articleDetail-1": 1},
        {"articleDetail": 6},
        "标题",
        LONG_BODY,
        1794795120,
        {"username": 7},
        detail,
        "周以宁",
    ]
    article = SITE.extract(_page(_nuxt_script(values)))
    assert article is not None
    assert (article.title, article.author) == ("标题", "周以宁")
    assert article.published == datetime(2026, 11, 16, 2, 12, tzinfo=UTC)


def test_dom_reads_the_first_title_when_related_cards_reuse_the_class() -> None:
    cards = '<div class="related"><h3 class="article__title">另一篇</h3></div>'
    article = SITE.extract(_page(DOM_BODY + cards))
    assert article is not None and article.title == "旧版页面的标题"


def test_broken_payload_falls_back_to_the_older_dom() -> None:
    article = SITE.extract(_page(_nuxt_script([{"articleDetail-1": 99}]) + DOM_BODY))
    assert article is not None and article.title == "旧版页面的标题"
    assert article.author == "顾远"  # no .author-info__username: the credit line names the writer
    assert article.published == datetime(2026, 11, 14, 10, 30, tzinfo=UTC)


def test_a_payload_nested_too_deep_falls_back_to_the_dom() -> None:
    depth = 5000
    values: list[object] = [{"articleDetail-1": 1}, *([i + 2] for i in range(depth)), "底"]
    article = SITE.extract(_page(_nuxt_script(values) + DOM_BODY))
    assert article is not None and article.title == "旧版页面的标题"


def test_dom_title_falls_back_to_the_page_title() -> None:
    body = DOM_BODY.replace('<h1 class="article__title">旧版页面的标题</h1>', "")
    article = SITE.extract(_page(body, title="标题里的文章-虎嗅网"))
    assert article is not None and article.title == "标题里的文章"


def test_nuxt2_initial_state() -> None:
    state = {
        "articleDetail": {
            "articleDetail": {
                "title": "二〇二三年的页面",
                "content": LONG_BODY,
                "dateline": "1794652200",
                "user_info": {"username": "顾远"},
            }
        }
    }
    script = f"<script>window.__INITIAL_STATE__={json.dumps(state, ensure_ascii=False)};(function(){{}})()</script>"
    article = SITE.extract(_page(script))
    assert article is not None and (article.title, article.author) == ("二〇二三年的页面", "顾远")
    assert article.published == datetime(2026, 11, 14, 10, 30, tzinfo=UTC)


def test_detail_without_user_info_takes_the_credit_author() -> None:
    content = '<p><span class="text-remarks">作者｜苏禾</span></p>' + LONG_BODY
    state = {"articleDetail": {"articleDetail": {"title": "标题", "content": content}}}
    script = f"<script>window.__INITIAL_STATE__={json.dumps(state, ensure_ascii=False)};</script>"
    article = SITE.extract(_page(script))
    assert article is not None and article.author == "苏禾" and article.published is None


def test_an_inline_remark_that_reads_like_a_credit_stays_in_its_sentence() -> None:
    html = '<p>这篇稿子的<span class="text-remarks">作者｜苏禾</span>后来去了别处。</p>'
    assert body_text(parse_body(html)) == "这篇稿子的作者｜苏禾后来去了别处。"


def test_a_page_without_any_known_layout_is_left_to_generic_extraction() -> None:
    assert SITE.extract(_page("<article><p>别的什么</p></article>")) is None


def test_the_verification_shell_is_blocked() -> None:
    html = (PAGES / "article" / "4904455.html").read_text(encoding="utf-8")
    document = Document("https://www.huxiu.com/article/4904455.html", html)
    assert SITE.extract(document) is None
    result = extract_article(SITE, document)
    assert isinstance(result, Blocked) and "访问验证" in result.reason
