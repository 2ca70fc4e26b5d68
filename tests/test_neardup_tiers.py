"""Near-duplicates beyond simhash (issue 10), end to end: the installed `followup crawl` against two
sources served on 127.0.0.1, in both arrival orders.

Source alpha publishes the originals at 09:00, source beta the copies at 12:00: a truncated repost
with `……阅读全文`, one with a 相关阅读 block, an excerpt, a long copy of a short newsflash, a short
copy re-headlined with `原标题：…`, and a follow-up that quotes an original and adds new text.
Each copy carries one of the credit lines issue 10 names. Crawled alpha first, each copy is a
duplicate; crawled beta first, each copy is stored, then its original arrives, is found the same
way and, published earlier, takes the copy's place. The end state is the same.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from crawler.fingerprint import NEAR_DISTANCE, hamming
from crawler.mirror import Mirror, Page
from crawler.report import source_failed
from tests.helpers import FAST_SETTINGS, write_seeds
from tests.inprocess import crawl_logged
from tests.neardup.corpus import Article, load_articles
from tests.neardup.tiers import (
    RELATED,
    Text,
    follow_up,
    regroup,
    sentences_of,
    short_version,
    signature,
    truncate,
)

ALPHA, BETA = "https://alpha.example.com", "https://beta.example.org"
SOURCES = f"""
[[source]]
id = "alpha"
site = "generic"
feeds = ["{{{ALPHA}/rss}}"]

[[source]]
id = "beta"
site = "generic"
feeds = ["{{{BETA}/rss}}"]
"""
TOPICS = """
[[topic]]
id = "interop"
query = "阿里 OR 腾讯 OR 淘宝 OR 微信"
"""
# Every credit and chrome line issue 10 names; each copy carries some, none may be stored.
CREDIT_LINES = (
    "文章来源：零售观察",
    "本文转载自公众号“电商在线”",
    "声明：本文转载自网络，版权归原作者所有。",
    "【责任编辑：林晓】",
    "（完）",
    "展开全文",
    "点击阅读全文>>",
    "▲图片来源：视觉中国",
    "*文章为作者独立观点，不代表本站立场。",
)


@dataclass(frozen=True)
class Story:
    """One item of a source: its page path, title and paragraphs."""

    path: str
    title: str
    paragraphs: list[str]


def stories() -> tuple[list[Story], list[Story], dict[str, str]]:
    """(alpha's originals, beta's copies, copy path → original path; the follow-up maps to "")."""
    articles = {article.id[:2]: article for article in load_articles()}
    alpha: list[Story] = []
    beta: list[Story] = []
    expected: dict[str, str] = {}

    def pair(original: Story, copy: Story) -> None:
        alpha.append(original)
        beta.append(copy)
        expected[copy.path] = original.path

    rng = random.Random(10)
    a02, a04, a05, a06 = (articles[k] for k in ("02", "04", "05", "06"))
    pair(_whole(a02, "/a/1"), _copy(a02, "/c/1", truncate(_paragraphs(a02), 0.6, rng), 0))
    related = [*truncate(_paragraphs(a04), 0.6, rng), *RELATED]
    pair(_whole(a04, "/a/2"), _copy(a04, "/c/2", related, 3))
    pair(_whole(a05, "/a/3"), _copy(a05, "/c/3", _middle(a05, 0.3, 0.85), 5))
    short = short_version(_paragraphs(a06), 200)
    longer = [*short, *_paragraphs(a06)[len(short) : len(short) + 3]]
    pair(
        Story("/a/4", a06.title, short),
        _copy(a06, "/c/4", longer, 7, title=a06.title + " - 贝塔科技"),
    )
    a08 = articles["08"]
    brief = short_version(_paragraphs(a08), 150)
    pair(
        Story("/a/5", a08.title, brief),
        Story("/c/5", "刚刚，阿里腾讯十年关系再迎转折", [f"原标题：《{a08.title}》", *brief]),
    )
    a09, a10 = articles["09"], articles["10"]
    alpha.append(_whole(a09, "/a/6"))
    quoting = follow_up(_paragraphs(a09), _paragraphs(a10), random.Random(3))
    assert quoting is not None
    beta.append(Story("/c/6", a10.title, quoting))
    expected["/c/6"] = ""
    return alpha, beta, expected


def _paragraphs(article: Article) -> list[str]:
    return article.body.split("\n")


def _whole(article: Article, path: str) -> Story:
    return Story(path, article.title, _paragraphs(article))


def _middle(article: Article, start: float, end: float) -> list[str]:
    rows = sentences_of(_paragraphs(article))
    return regroup(rows[int(start * len(rows)) : int(end * len(rows))])


def _copy(
    article: Article, path: str, paragraphs: list[str], credit: int, *, title: str = ""
) -> Story:
    """A copy carrying two of CREDIT_LINES (from `credit` on): one before, one after its text."""
    first, second = CREDIT_LINES[credit], CREDIT_LINES[credit + 1]
    return Story(path, title or article.title, [first, *paragraphs, second])


def page(story: Story, published: str) -> Page:
    body = "\n".join(f"      <p>{paragraph}</p>" for paragraph in story.paragraphs)
    html = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <title>{story.title}</title>
  <meta property="og:title" content="{story.title}">
  <meta property="og:type" content="article">
  <meta property="article:published_time" content="{published}">
</head>
<body>
  <main class="container">
    <article class="post">
      <h1 class="post-title">{story.title}</h1>
      <div class="post-body">
{body}
      </div>
    </article>
  </main>
</body>
</html>"""
    return Page(html.encode("utf-8"))


def feed(origin: str, stories: list[Story], published: str) -> Page:
    items = "\n".join(
        f"""  <item>
    <title>{story.title}</title>
    <link>{origin}{story.path}</link>
    <guid isPermaLink="true">{origin}{story.path}</guid>
    <pubDate>{published}</pubDate>
    <description><![CDATA[<p>{story.paragraphs[0][:30]}…</p>]]></description>
  </item>"""
        for story in stories
    )
    rss = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{origin}</title><link>{origin}/</link><description>x</description>
{items}
</channel></rss>"""
    return Page(rss.encode("utf-8"), "application/rss+xml; charset=utf-8")


@pytest.fixture(scope="module")
def two_sources() -> Iterator[tuple[Mirror, dict[str, str]]]:
    alpha, beta, expected = stories()
    pages = {f"{ALPHA}/rss": feed(ALPHA, alpha, "Fri, 20 Nov 2026 09:00:00 +0800")}
    pages |= {f"{BETA}/rss": feed(BETA, beta, "Fri, 20 Nov 2026 12:00:00 +0800")}
    pages |= {f"{ALPHA}{s.path}": page(s, "2026-11-20T09:00:00+08:00") for s in alpha}
    pages |= {f"{BETA}{s.path}": page(s, "2026-11-20T12:00:00+08:00") for s in beta}
    with Mirror(pages) as mirror:
        yield mirror, expected


def crawl_in_order(
    mirror: Mirror, directory: Path, order: tuple[str, str]
) -> tuple[Path, list[dict[str, Any]]]:
    """Crawl one source, then the other; the articles after the first crawl too."""
    seeds = write_seeds(directory / "seeds", mirror, SOURCES, topics=TOPICS)
    db = directory / "followup.db"
    after_first: list[dict[str, Any]] = []
    for source in order:
        result, log = crawl_logged(seeds, db, settings=FAST_SETTINGS, sources=[source])
        assert result.error is None and not source_failed(result.summary[source]), log
        if not after_first:
            after_first = list(Database(db).query("SELECT url, text FROM articles"))
    return db, after_first


def path_of(mirror: Mirror, url: str) -> str:
    real = mirror.real_url(url)
    return real.removeprefix(ALPHA).removeprefix(BETA)


@pytest.mark.parametrize(
    "order", [("alpha", "beta"), ("beta", "alpha")], ids=["originals first", "copies first"]
)
def test_each_repost_kind_is_a_duplicate_in_both_orders(
    two_sources: tuple[Mirror, dict[str, str]], tmp_path: Path, order: tuple[str, str]
) -> None:
    mirror, expected = two_sources
    db_path, first = crawl_in_order(mirror, tmp_path, order)
    db = Database(db_path)
    articles = {
        a["id"]: path_of(mirror, a["url"]) for a in db.query("SELECT id, url FROM articles")
    }
    duplicates = {
        path_of(mirror, d["url"]): (articles[d["duplicate_of"]], d["method"])
        for d in db.query("SELECT url, duplicate_of, method FROM duplicates")
    }
    # Every copy points at its original, and the follow-up is an article of its own.
    assert {copy: original for copy, (original, _) in duplicates.items()} == {
        copy: original for copy, original in expected.items() if original
    }
    assert set(articles.values()) == {f"/a/{n}" for n in range(1, 7)} | {"/c/6"}
    methods = {copy: method for copy, (_, method) in duplicates.items()}
    assert methods["/c/1"] == methods["/c/2"] == methods["/c/3"] == "containment"
    assert methods["/c/4"] == methods["/c/5"] == "title"
    if order[0] == "beta":  # the copies were stored first: none kept a credit line
        texts = "\n".join(a["text"] for a in first)
        assert [line for line in CREDIT_LINES if line in texts] == []
        assert "相关阅读" not in texts and "阅读全文" not in texts


def test_the_containment_pairs_are_beyond_simhash() -> None:
    """The crawl test proves the second tier only if its pairs are past NEAR_DISTANCE."""
    alpha, beta, expected = stories()
    originals = {s.path: s for s in alpha}
    for copy in beta[:3]:
        original = originals[expected[copy.path]]
        a = signature(Text(original.title, "\n".join(original.paragraphs)))
        b = signature(Text(copy.title, "\n".join(copy.paragraphs)))
        assert a.fingerprint is not None and b.fingerprint is not None
        assert hamming(a.fingerprint, b.fingerprint) > NEAR_DISTANCE
