"""A labelled same-story corpus: ten distinct articles and seeded, generated copies of each.

The articles (articles/*.txt: a title line, a blank line, one paragraph per line) were written for
this corpus. All cover the Alibaba-Tencent opening of 2021-2024, so they share names and phrases
the way real same-story coverage does. Variants are what reposting does to an article: other
credit lines, a paragraph trimmed, sentences edited, punctuation width, whitespace, an HTML round
trip, and combinations. Excerpts (40-70% of an article) are a class of their own.
"""

from __future__ import annotations

import html
import itertools
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from crawler.fingerprint import hamming
from crawler.text import compact, html_to_text, split_original_title, strip_boilerplate

ARTICLES_DIR = Path(__file__).parent / "articles"
EXCERPT = "excerpt"

POSITIVE, DISTINCT, EXCERPT_PAIR = "positive", "distinct", "excerpt"


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str


@dataclass(frozen=True)
class Variant:
    article_id: str
    kind: str
    text: str  # what a caller fingerprints: HTML flattened, credit lines stripped


@dataclass(frozen=True)
class Pair:
    label: str  # POSITIVE, DISTINCT or EXCERPT_PAIR
    kind: str  # the variant's kind, or "article" for two originals
    a: str
    b: str


def load_articles(directory: Path = ARTICLES_DIR) -> list[Article]:
    """The corpus articles, in file-name order."""
    articles = []
    for path in sorted(directory.glob("*.txt")):
        title, body = path.read_text(encoding="utf-8").split("\n\n", 1)
        articles.append(Article(path.stem, title.strip(), body.strip()))
    return articles


# ---- credit lines ------------------------------------------------------------------------------

ACCOUNTS = ("科技观察室", "晚点财经", "电商在线", "支付百科", "互联网那些事", "商业数据派")
NAMES = ("林晓", "周舟", "陈默", "王一帆", "李青禾", "赵成", "孙曼")
HEADERS = (
    "本文来自微信公众号“{account}”（ID：{slug}），作者：{name}，36氪经授权发布。",
    "本文来自微信公众号：{account}（ID：{slug}），作者：{name}，题图来自：视觉中国",
    "作者｜{name}",
    "编辑｜{name}",
    "题图｜视觉中国",
    "文 | {name}",
    "来源：{account}",
    "本文由{account}授权虎嗅发布",
    "原标题：《{title}》",
)
FOOTERS = (
    "该文观点仅代表作者本人，36氪平台仅提供信息存储空间服务。",
    "本文来自虎嗅，原文链接：https://www.huxiu.com/article/{number}.html",
    "未经授权，禁止转载。",
    "责任编辑：{name}",
    "点击关注“{account}”，获取更多科技资讯",
    "免责声明：本文仅代表作者观点，不构成投资建议。",
)
# Real credit lines that crawler.text does not strip: they stay in the fingerprinted text.
UNSTRIPPED_HEADERS = ("图片来源@视觉中国", "原创 {name} {account} 2024-09-13 08:30 北京")


def _fill(template: str, rng: random.Random, title: str) -> str:
    return template.format(
        account=rng.choice(ACCOUNTS),
        slug=f"wx{rng.randrange(10**6):06d}",
        name=rng.choice(NAMES),
        title=title,
        number=rng.randrange(10**6, 10**7),
    )


def add_credits(paragraphs: list[str], rng: random.Random, title: str) -> list[str]:
    headers = [_fill(line, rng, title) for line in rng.sample(HEADERS, rng.randint(1, 3))]
    footers = [_fill(line, rng, title) for line in rng.sample(FOOTERS, rng.randint(1, 2))]
    return headers + paragraphs + footers


def add_unstripped_credits(paragraphs: list[str], rng: random.Random, title: str) -> list[str]:
    headers = [_fill(line, rng, title) for line in UNSTRIPPED_HEADERS]
    return add_credits(headers + paragraphs, rng, title)


# ---- edits -------------------------------------------------------------------------------------

SENTENCE_RE = re.compile(r"[^。！？]+[。！？]?”?")
CONNECTIVES = ("据悉，", "值得注意的是，", "记者注意到，", "有消息称，", "与此同时，", "事实上，")
SYNONYMS = (
    ("表示", "称"),
    ("认为", "指出"),
    ("消费者", "用户"),
    ("目前", "当前"),
    ("已经", "已"),
    ("不少", "许多"),
    ("明显", "显著"),
    ("不过", "但"),
    ("直接", "直接地"),
    ("进行", "开展"),
    ("微信支付", "微信的支付功能"),
    ("淘宝", "手机淘宝"),
)
ASIDES = ("据了解，", "业内人士称，", "从目前情况看，", "记者了解到，")


def edit_sentence(sentence: str, rng: random.Random) -> str:
    """One edit of the kind a re-editor makes: a word swapped, inserted or a clause moved."""
    clauses = sentence.split("，")
    present = [pair for pair in SYNONYMS if pair[0] in sentence]
    choice = rng.randrange(4)
    if choice == 0 and present:
        old, new = rng.choice(present)
        return sentence.replace(old, new, 1)
    if choice == 1 and len(clauses) >= 3:
        i = rng.randrange(1, len(clauses) - 1)
        clauses[i], clauses[i + 1] = clauses[i + 1], clauses[i]
        return "，".join(clauses)
    if choice == 2 and len(clauses) >= 2:
        clauses.insert(rng.randrange(1, len(clauses)), rng.choice(ASIDES).rstrip("，"))
        return "，".join(clauses)
    return rng.choice(CONNECTIVES) + sentence


def edit_sentences(paragraphs: list[str], rng: random.Random, count: int) -> list[str]:
    sentences = [SENTENCE_RE.findall(paragraph) for paragraph in paragraphs]
    places = [(p, s) for p, row in enumerate(sentences) for s in range(len(row))]
    for p, s in rng.sample(places, min(count, len(places))):
        sentences[p][s] = edit_sentence(sentences[p][s], rng)
    return ["".join(row) for row in sentences]


SOURCES = ("36氪", "新浪科技", "界面新闻", "第一财经", "澎湃新闻")
ATTRIBUTIONS = (
    "据{source}报道，",
    "{source}获悉，",
    "{source}消息，",
    "据{source}援引知情人士消息，",
)


def attribute(paragraphs: list[str], rng: random.Random) -> list[str]:
    """A newsflash re-told: a "据…报道" lead-in, as outlets rewrite each other's flashes."""
    lead = rng.choice(ATTRIBUTIONS).format(source=rng.choice(SOURCES))
    return [lead + paragraphs[0], *paragraphs[1:]]


# ---- surface changes ---------------------------------------------------------------------------

PUNCTUATION_TO_HALF = str.maketrans(
    {"，": ", ", "。": ". ", "：": ":", "；": ";", "“": '"', "”": '"', "（": "(", "）": ")"}
)


def change_width(text: str, rng: random.Random) -> str:
    """Full-width <-> half-width: CJK punctuation to ASCII, or ASCII digits and letters to full."""
    if rng.random() < 0.5:
        text = text.translate(PUNCTUATION_TO_HALF)
    return "".join(
        chr(ord(char) + 0xFEE0)
        if char.isascii() and char.isalnum() and rng.random() < 0.7
        else char
        for char in text
    )


def add_spacing(text: str, rng: random.Random) -> str:
    """Indents, blank lines, stray spaces and tabs, as pasted or re-typeset copies have."""
    lines = []
    for line in text.split("\n"):
        chars = [char + (" " if rng.random() < 0.04 else "") for char in line]
        lines.append(rng.choice(("\u3000\u3000", "  ", "\t", "")) + "".join(chars) + " ")
    return "\n\n".join(lines)


INLINE_TAGS = (
    ("<strong>", "</strong>"),
    ("<em>", "</em>"),
    ('<a href="https://example.com/x?f=rss" target="_blank">', "</a>"),
    ('<span style="color: #333;">', "</span>"),
    ("<b>", "</b>"),
)


def render_html(paragraphs: list[str], rng: random.Random) -> str:
    """An article page body: <p> per paragraph, inline markup, an image, a caption, a script."""
    parts = ['<div class="article-content">']
    for paragraph in paragraphs:
        parts.append(f"<p>{_inline_markup(paragraph, rng)}</p>")
        if rng.random() < 0.3:
            parts.append('<p class="image-wrapper"><img src="https://img.example.com/a.jpg"></p>')
            parts.append('<p class="img-desc">图片来源：视觉中国</p>')
    parts.append('<script>window.__stats = {"read": 1};</script></div>')
    return "\n".join(parts)


def _inline_markup(paragraph: str, rng: random.Random) -> str:
    # Cut the paragraph at an even number of places and wrap every second piece in a tag.
    count = min(2 * rng.randint(0, 3), (len(paragraph) - 1) // 2 * 2)
    cuts = sorted(rng.sample(range(1, len(paragraph)), count))
    bounds = [0, *cuts, len(paragraph)]
    pieces = []
    for index, (start, end) in enumerate(itertools.pairwise(bounds)):
        piece = html.escape(paragraph[start:end])
        if index % 2:
            open_tag, close_tag = rng.choice(INLINE_TAGS)
            piece = open_tag + piece + close_tag
        pieces.append(piece)
    text = "".join(pieces)
    return text.replace("，", "，&nbsp;", 1) if rng.random() < 0.5 else text


# ---- excerpts ----------------------------------------------------------------------------------


def excerpt(paragraphs: list[str], rng: random.Random) -> list[str]:
    """Contiguous sentences covering 40-70% of the article's characters."""
    rows = [
        (p, s) for p, paragraph in enumerate(paragraphs) for s in SENTENCE_RE.findall(paragraph)
    ]
    total = sum(len(compact(s)) for _, s in rows)
    target = rng.uniform(0.4, 0.7) * total
    starts = [i for i in range(len(rows)) if sum(len(compact(s)) for _, s in rows[i:]) >= target]
    start = rng.choice(starts)
    taken: list[tuple[int, str]] = []
    while sum(len(compact(s)) for _, s in taken) < target:
        taken.append(rows[start + len(taken)])
    return ["".join(s for _, s in group) for _, group in itertools.groupby(taken, lambda r: r[0])]


# ---- recipes -----------------------------------------------------------------------------------

Step = Callable[[list[str], random.Random, str], list[str]]


def _on_text(change: Callable[[str, random.Random], str]) -> Step:
    return lambda paragraphs, rng, title: [change("\n".join(paragraphs), rng)]


def _edits(count: int) -> Step:
    return lambda paragraphs, rng, title: edit_sentences(paragraphs, rng, count)


def _html(paragraphs: list[str], rng: random.Random, title: str) -> list[str]:
    return [html_to_text(render_html(paragraphs, rng))]


STEPS: dict[str, Step] = {
    "credits": add_credits,
    "unstripped_credits": add_unstripped_credits,
    "trim_first": lambda paragraphs, rng, title: paragraphs[1:],
    "trim_last": lambda paragraphs, rng, title: paragraphs[:-1],
    "edit1": _edits(1),
    "edit3": _edits(3),
    "edit6": _edits(6),
    "width": _on_text(change_width),
    "spacing": _on_text(add_spacing),
    "html": _html,
    "attribution": lambda paragraphs, rng, title: attribute(paragraphs, rng),
    EXCERPT: lambda paragraphs, rng, title: excerpt(paragraphs, rng),
}
# Each kind is a recipe of steps applied in order; the HTML step comes after text edits.
KINDS: dict[str, tuple[str, ...]] = {
    "credits": ("credits",),
    "unstripped_credits": ("unstripped_credits",),
    "trim_first": ("trim_first",),
    "trim_last": ("trim_last",),
    "edit3": ("edit3",),
    "edit6": ("edit6",),
    "width": ("width",),
    "spacing": ("spacing",),
    "html": ("html",),
    "credits+html": ("credits", "html"),
    "trim_first+credits+width": ("trim_first", "credits", "width"),
    "edit3+credits+html": ("edit3", "credits", "html"),
    "trim_last+edit3+spacing": ("trim_last", "edit3", "spacing"),
    "trim_first+trim_last": ("trim_first", "trim_last"),
    "trim_first+edit6+credits+html": ("trim_first", "edit6", "credits", "html"),
    EXCERPT: (EXCERPT,),
}
# Short texts are fingerprinted only above MIN_FINGERPRINT_CHARS; these are the edits measured on
# them (no trims: a short text has one or two paragraphs).
SHORT_KINDS: dict[str, tuple[str, ...]] = {
    "credits+html": ("credits", "html"),
    "width": ("width",),
    "spacing": ("spacing",),
    "edit1": ("edit1",),
    "attribution": ("attribution",),
}


def prepare(text: str) -> str:
    """What the pipeline does before fingerprinting: strip credit lines and a `原标题` line."""
    return split_original_title(strip_boilerplate(text))[1]


def make_variant(article: Article, kind: str, seed: int, *, recipe: tuple[str, ...]) -> Variant:
    rng = random.Random(f"{article.id}/{kind}/{seed}")
    paragraphs = article.body.split("\n")
    for step in recipe:
        paragraphs = STEPS[step](paragraphs, rng, article.title)
    return Variant(article.id, kind, prepare("\n".join(paragraphs)))


def make_variants(
    article: Article, *, copies: int = 3, kinds: dict[str, tuple[str, ...]] = KINDS
) -> list[Variant]:
    """`copies` seeded variants of each kind."""
    return [
        make_variant(article, kind, seed, recipe=recipe)
        for kind, recipe in kinds.items()
        for seed in range(copies)
    ]


def iter_pairs(articles: list[Article], variants: list[Variant]) -> Iterator[Pair]:
    """Every labelled pair: original-variant, original-excerpt, and all distinct pairs."""
    originals = {article.id: prepare(article.body) for article in articles}
    for first, second in itertools.combinations(articles, 2):
        yield Pair(DISTINCT, "article", originals[first.id], originals[second.id])
    for variant in variants:
        label = EXCERPT_PAIR if variant.kind == EXCERPT else POSITIVE
        yield Pair(label, variant.kind, originals[variant.article_id], variant.text)
        for other_id, other in originals.items():
            if other_id != variant.article_id:
                yield Pair(DISTINCT, variant.kind, other, variant.text)


def distances(
    pairs: Iterable[Pair], compute: Callable[[str], int]
) -> dict[str, list[tuple[str, int]]]:
    """(kind, distance) of every pair, by label."""
    result: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for pair in pairs:
        result[pair.label].append((pair.kind, hamming(compute(pair.a), compute(pair.b))))
    return result


def short_text(article: Article, length: int, *, skip: int = 0) -> Article:
    """The article's sentences from the `skip`-th on, up to `length` compact characters."""
    sentences = SENTENCE_RE.findall(article.body.replace("\n", ""))[skip:]
    taken: list[str] = []
    while sentences and sum(len(compact(s)) for s in taken) < length:
        taken.append(sentences.pop(0))
    return Article(f"{article.id}@{skip}", article.title, "".join(taken))
