"""A labelled set for the near-duplicate decision as a whole: simhash, the second tier, titles.

Every repost kind issue 10 names (truncated after 60 % or 80 % with `……阅读全文`, with an added
lead or a 相关阅读 block, excerpts of 50-90 %, short originals with a longer copy, short copies
re-headlined with `原标题：…`) plus the simhash corpus's kinds, against distinct articles of one
story and follow-ups that quote a paragraph or two of an earlier article and add new ones. Each
pair is decided in both arrival orders, by the decision before issue 10 ("old") and today's
("new", `decide`, which tests/test_neardup_decision.py holds to `Store.find_original`).

The articles are the corpus's own (tests/neardup/articles) and, for the benchmark, any directory
of real texts given at measurement time (`python -m bench --only 6 --real DIR`): never committed.
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import lxml.etree

from crawler.fingerprint import MIN_FINGERPRINT_CHARS, NEAR_DISTANCE, hamming
from crawler.ingest import Features, Signature
from crawler.model import Article as Page
from crawler.sketch import SKETCH_DISTANCE, is_contained_copy
from crawler.text import compact, html_to_text, strip_boilerplate

from .corpus import KINDS, SENTENCE_RE, Article, make_variant

Method = Literal["simhash", "containment", "title"]
POSITIVE, FOLLOW_UP, DISTINCT = "positive", "follow-up", "distinct"

LEADS = (
    "编者按：这是本周最受关注的一条行业消息，我们整理了事件的来龙去脉，供读者参考。",
    "【导读】平台之间的墙正在一块块拆掉，但真正的变化还要看接下来几个月的落地情况。",
    "今天早上，这条消息在多个行业群里刷屏，不少商家第一时间转发给了同事和合作伙伴。",
)
RELATED = (
    "相关阅读",
    "淘宝接入微信支付，第一周发生了什么",
    "支付宝回应：对外开放是长期战略",
    "微信外链新规解读：哪些链接可以直接打开",
    "电商平台的下一个增量在哪里",
)
READ_MORE = ("……阅读全文", "…点击阅读全文>>", "……查看全文")
NEW_TITLES = ("重磅！{head}", "刚刚，{head}", "{head}，背后有哪些信号", "一文读懂：{head}")
SITE_SUFFIXES = (" - 36氪", "_虎嗅网", " | cnBeta.COM", "-财经网")


@dataclass(frozen=True)
class Text:
    """One side of a pair as the crawl sees it: a title and a body after extraction."""

    title: str
    body: str


def signature(text: Text) -> Signature:
    """What ingest compares of a text, after extraction has stripped its credit lines."""
    page = Page("https://example.com/", text.title, strip_boilerplate(text.body))
    return Signature.of(page, Features.of(page))


def keys(signature: Signature) -> set[str]:
    """A text's normalised titles: its own and the one its `原标题` line names."""
    return {key for key in (signature.title_key, signature.original_title_key) if key}


@dataclass(frozen=True)
class Pair:
    label: str  # POSITIVE, FOLLOW_UP or DISTINCT
    kind: str
    original: Text
    other: Text


def decide(new: Signature, stored: Signature) -> Method | None:
    """Today's decision for one arriving text against one stored text: what Store.find_original
    decides when the stored text is the only candidate."""
    if new.fingerprint is None:
        return "title" if keys(new) & keys(stored) else None
    if stored.fingerprint is not None:
        distance = hamming(new.fingerprint, stored.fingerprint)
        if distance <= NEAR_DISTANCE:
            return "simhash"
        if (
            distance <= SKETCH_DISTANCE
            and new.sketch is not None
            and stored.sketch is not None
            and is_contained_copy(new.sketch, stored.sketch)
        ):
            return "containment"
        return None
    return "title" if keys(new) & keys(stored) else None


def decide_old(new: Signature, stored: Signature) -> Method | None:
    """The decision before issue 10: simhash within NEAR_DISTANCE, or the same title when the
    arriving text is a newsflash."""
    if new.fingerprint is None:
        return "title" if new.title_key and new.title_key == stored.title_key else None
    if stored.fingerprint is None:
        return None
    return "simhash" if hamming(new.fingerprint, stored.fingerprint) <= NEAR_DISTANCE else None


# ---- repost kinds --------------------------------------------------------------------------------


def sentences_of(paragraphs: list[str]) -> list[tuple[int, str]]:
    return [
        (p, s) for p, paragraph in enumerate(paragraphs) for s in SENTENCE_RE.findall(paragraph)
    ]


def regroup(rows: Iterable[tuple[int, str]]) -> list[str]:
    return ["".join(s for _, s in group) for _, group in itertools.groupby(rows, lambda r: r[0])]


def truncate(paragraphs: list[str], fraction: float, rng: random.Random) -> list[str]:
    """The first `fraction` of the text, to a sentence end, then a "read the full text" link."""
    rows = sentences_of(paragraphs)
    total = sum(len(compact(s)) for _, s in rows)
    taken: list[tuple[int, str]] = []
    while sum(len(compact(s)) for _, s in taken) < fraction * total:
        taken.append(rows[len(taken)])
    kept = regroup(taken)
    kept[-1] += rng.choice(READ_MORE)
    return kept


def excerpt(paragraphs: list[str], rng: random.Random, low: float = 0.5) -> list[str]:
    """Contiguous sentences covering `low`-90 % of the text's characters."""
    rows = sentences_of(paragraphs)
    sizes = [len(compact(s)) for _, s in rows]
    target = rng.uniform(low, 0.9) * sum(sizes)
    starts = [i for i in range(len(rows)) if sum(sizes[i:]) >= target]
    start = rng.choice(starts)
    end = start
    while sum(sizes[start:end]) < target:
        end += 1
    return regroup(rows[start:end])


def follow_up(paragraphs: list[str], fresh: list[str], rng: random.Random) -> list[str] | None:
    """New coverage: a lead, a passage quoted from the earlier article (contiguous sentences,
    15-40 % of it: a paragraph or two) and new paragraphs at least as long as the quote. None
    when `fresh` has too little new text."""
    rows = sentences_of(paragraphs)
    sizes = [len(compact(s)) for _, s in rows]
    target = rng.uniform(0.15, 0.4) * sum(sizes)
    start = rng.choice([i for i in range(len(rows)) if sum(sizes[i:]) >= target])
    end = start + 1
    while sum(sizes[start:end]) < target:
        end += 1
    quoted = regroup(rows[start:end])
    wanted = rng.uniform(1.0, 3.0) * sum(sizes[start:end])
    new: list[str] = []
    for paragraph in fresh:
        if sum(len(compact(p)) for p in new) >= wanted:
            break
        new.append(paragraph)
    if sum(len(compact(p)) for p in new) < sum(sizes[start:end]):
        return None
    return [rng.choice(LEADS), *quoted, *new]


def short_version(paragraphs: list[str], length: int) -> list[str]:
    """The text's first sentences, up to `length` compact characters (a newsflash)."""
    rows = sentences_of(paragraphs)
    taken: list[tuple[int, str]] = []
    while rows[len(taken) :] and sum(len(compact(s)) for _, s in taken) < length:
        taken.append(rows[len(taken)])
    if sum(len(compact(s)) for _, s in taken) >= MIN_FINGERPRINT_CHARS:
        taken.pop()
    return regroup(taken)


Kind = Callable[[Article, random.Random], tuple[Text, Text]]


def _text(article: Article) -> Text:
    return Text(article.title, article.body)


def _body(title: str, paragraphs: list[str]) -> Text:
    return Text(title, "\n".join(paragraphs))


def _truncated(fraction: float, extra: str = "") -> Kind:
    def make(article: Article, rng: random.Random) -> tuple[Text, Text]:
        paragraphs = truncate(article.body.split("\n"), fraction, rng)
        if extra == "lead":
            paragraphs.insert(0, rng.choice(LEADS))
        elif extra == "related":
            paragraphs += RELATED[: rng.randint(3, len(RELATED))]
        return _text(article), _body(article.title, paragraphs)

    return make


def _excerpt(article: Article, rng: random.Random) -> tuple[Text, Text]:
    return _text(article), _body(article.title, excerpt(article.body.split("\n"), rng))


def _short_original_long_copy(article: Article, rng: random.Random) -> tuple[Text, Text]:
    paragraphs = article.body.split("\n")
    short = short_version(paragraphs, rng.randint(120, 280))
    # The copy carries the newsflash with the background the original left out.
    longer = [*short, *paragraphs[len(short) : len(short) + 3]]
    title = article.title + rng.choice(SITE_SUFFIXES)
    return _body(article.title, short), _body(title, longer)


def _retitled_short(article: Article, rng: random.Random) -> tuple[Text, Text]:
    short = short_version(article.body.split("\n"), rng.randint(80, 280))
    head = re.split(r"[，：:]", article.title)[0]
    title = rng.choice(NEW_TITLES).format(head=head)
    copy = [f"原标题：《{article.title}》", *short]
    return _body(article.title, short), _body(title, copy)


def _corpus_kind(kind: str) -> Kind:
    def make(article: Article, rng: random.Random) -> tuple[Text, Text]:
        variant = make_variant(article, kind, rng.randrange(10**6), recipe=KINDS[kind])
        return _text(article), Text(article.title, variant.text)

    return make


NEW_KINDS: dict[str, Kind] = {
    "truncated 60%": _truncated(0.6),
    "truncated 80%": _truncated(0.8),
    "truncated 60% + lead": _truncated(0.6, "lead"),
    "truncated 80% + lead": _truncated(0.8, "lead"),
    "truncated 60% + 相关阅读": _truncated(0.6, "related"),
    "truncated 80% + 相关阅读": _truncated(0.8, "related"),
    "excerpt 50-90%": _excerpt,
    "short original, long copy": _short_original_long_copy,
    "short copy, 原标题": _retitled_short,
}
# The simhash corpus's kinds (its 40-70 % excerpts are replaced by the ≥ 50 % ones above).
SIMHASH_KINDS: dict[str, Kind] = {kind: _corpus_kind(kind) for kind in KINDS if kind != "excerpt"}
ALL_KINDS = {**NEW_KINDS, **SIMHASH_KINDS}


def iter_pairs(
    articles: list[Article], *, copies: int = 3, others: int | None = None, seed: int = 0
) -> Iterator[Pair]:
    """Every labelled pair: `copies` of each repost kind per article; follow-ups of each article
    by `others` other articles (all when None), and its copies against as many others; every
    two distinct articles."""
    for article in articles:
        for kind, make in ALL_KINDS.items():
            for copy in range(copies):
                rng = random.Random(f"{seed}/{article.id}/{kind}/{copy}")
                yield Pair(POSITIVE, kind, *make(article, rng))
    for earlier in articles:
        for later in _others(articles, earlier, others, seed):
            rng = random.Random(f"{seed}/{earlier.id}/follow-up/{later.id}")
            paragraphs = follow_up(earlier.body.split("\n"), later.body.split("\n"), rng)
            if paragraphs is not None:
                yield Pair(FOLLOW_UP, "follow-up", _text(earlier), _body(later.title, paragraphs))
    for first, second in itertools.combinations(articles, 2):
        yield Pair(DISTINCT, "distinct article", _text(first), _text(second))
    # Copies against other articles: a repost of one story is no repost of another.
    for article in articles:
        for kind, make in ALL_KINDS.items():
            _, copy = make(article, random.Random(f"{seed}/{article.id}/{kind}/0"))
            for other in _others(articles, article, others, seed):
                yield Pair(DISTINCT, "copy vs another article", _text(other), copy)


def _others(
    articles: list[Article], article: Article, count: int | None, seed: int
) -> list[Article]:
    rest = [other for other in articles if other.id != article.id]
    if count is None or count >= len(rest):
        return rest
    return random.Random(f"{seed}/{article.id}/others").sample(rest, count)


@dataclass(frozen=True)
class Outcome:
    label: str
    kind: str
    old: tuple[Method | None, Method | None]  # (copy arriving second, original arriving second)
    new: tuple[Method | None, Method | None]


def evaluate(pairs: Iterable[Pair]) -> Iterator[Outcome]:
    """Both decisions in both arrival orders for every pair."""
    cached = functools.cache(signature)
    for pair in pairs:
        original, other = cached(pair.original), cached(pair.other)
        yield Outcome(
            pair.label,
            pair.kind,
            (decide_old(other, original), decide_old(original, other)),
            (decide(other, original), decide(original, other)),
        )


# ---- real texts, read at measurement time only ----------------------------------------------------

MIN_REAL_CHARS = 400


def load_real_articles(directory: Path) -> list[Article]:
    """Articles from a directory of real pages: RSS/Atom files (each item's title and HTML
    body) and .txt files (a `# title` line then paragraphs, or front matter then HTML). Untitled
    texts, texts under MIN_REAL_CHARS word characters and repeats are left out."""
    found: dict[str, Article] = {}
    for path in sorted(directory.rglob("*")):
        if path.suffix == ".xml":
            items = _feed_items(path)
        elif path.suffix == ".txt":
            items = [_text_file(path)]
        else:
            continue
        for index, (title, body) in enumerate(items):
            paragraphs = [line for line in strip_boilerplate(body).split("\n") if len(line) > 1]
            text = "\n".join(paragraphs)
            if title and len(compact(text)) >= MIN_REAL_CHARS and text not in found:
                found[text] = Article(f"{path.stem}#{index}", title, text)
    return list(found.values())


def _feed_items(path: Path) -> list[tuple[str, str]]:
    root = lxml.etree.parse(str(path), lxml.etree.XMLParser(recover=True)).getroot()
    items = []
    for item in root.iter("item", "{http://www.w3.org/2005/Atom}entry"):
        title = item.findtext("title") or item.findtext("{http://www.w3.org/2005/Atom}title") or ""
        body = max(
            (
                child.text or ""
                for child in item
                if _local(child.tag) in ("description", "encoded", "content")
            ),
            key=len,
            default="",
        )
        items.append((title.strip(), html_to_text(body)))
    return items


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _text_file(path: Path) -> tuple[str, str]:
    """A `# title` line and paragraphs, or YAML front matter with a title and an HTML body."""
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("---"):
        _, matter, body = text.split("---", 2)
        titles = [
            line.split(":", 1)[1] for line in matter.splitlines() if line.startswith("title:")
        ]
        return (titles[0].strip(" '\"") if titles else ""), html_to_text(body)
    lines = text.splitlines()
    title = lines[0].lstrip("# ").strip() if lines else ""
    body = [line.strip("* ") for line in lines[1:] if not line.startswith("**")]
    return title, "\n".join(line for line in body if line)
