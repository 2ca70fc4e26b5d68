"""Measurement 6: near-duplicates beyond simhash (issue 10), today's decision beside the old one.

(a) Recall and precision per repost kind on the labelled set of tests/neardup/tiers.py, each pair
decided in both arrival orders by the decision before issue 10 (simhash within 10 bits; the same
title only when the arriving text is a newsflash) and by today's (`tiers.decide`, held to
`Store.find_original` by tests/test_neardup_tiers.py). The set is built from the corpus's own
articles, and also from a directory of real texts when `--real DIR` names one (read at run time,
never stored in the repository).
(b) `Store.find_original` at N stored fingerprints (the largest --index-sizes), without a sketch
(the simhash-only lookup of before) and with one (today's, the second tier on every candidate 11 to
SKETCH_DISTANCE bits from the recent window). Queries: 80 % random values, 10 % within 1-10 bits of
a recent fingerprint, 10 % 11-22 bits from a recent one whose sketch contains theirs.
(c) What deduplication costs per related article: the old ingest (features, simhash, lookup,
save) against `ingest_article` today, on the same generated articles and reposts, in a file store.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.context import Context
from bench.report import Row, markdown_table, median, percentile, seconds
from bench.textgen import TextGenerator
from crawler.config import Topic
from crawler.dates import to_iso, utcnow
from crawler.fingerprint import (
    MIN_FINGERPRINT_CHARS,
    fingerprint_compact,
    split_bands,
    title_key,
    to_signed,
)
from crawler.ingest import Features, ingest_article, match_topics
from crawler.model import Article
from crawler.neardup import RECENT_LIMIT
from crawler.query import parse_query
from crawler.sketch import SKETCH_DISTANCE, Sketch
from crawler.store import Store
from tests.neardup.corpus import load_articles
from tests.neardup.tiers import (
    DISTINCT,
    FOLLOW_UP,
    POSITIVE,
    Outcome,
    evaluate,
    iter_pairs,
    load_real_articles,
)

TARGET_RECALL = 0.97
TARGET_LOOKUP = 1e-3
TARGET_COST = 0.05
SKETCH_HASHES = 375  # a 3,000-character text keeps ~375 sampled 5-grams
INGEST_ARTICLES = {"quick": 40, "full": 400}
INGEST_RUNS = {"quick": 1, "full": 3}
REAL_OTHERS = 4  # per real article: follow-ups by, and copies against, this many others


def measure_neardup(ctx: Context) -> list[Row]:
    quick = ctx.options.quick
    sets = {"own corpus": load_articles()}
    if ctx.options.real is not None:
        sets[f"real texts in {ctx.options.real.name}"] = load_real_articles(ctx.options.real)
    rows: list[Row] = []
    for name, articles in sets.items():
        others = None if len(articles) <= 20 else REAL_OTHERS
        outcomes = list(evaluate(iter_pairs(articles, copies=1 if quick else 3, others=others)))
        rows.append(_decision_row(name, len(articles), outcomes))
        ctx.sections.append(_kind_section(name, len(articles), outcomes))
    size = 5_000 if quick else max(ctx.options.index_sizes)
    rows.append(_lookup_row(ctx, size))
    rows.append(_cost_row(ctx))
    return rows


# (a) the decision ------------------------------------------------------------------------------


def tally(outcomes: Iterable[Outcome]) -> dict[str, dict[str, list[int]]]:
    """kind → {"old"/"new": [matched, decisions]}, both arrival orders counted."""
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"old": [0, 0], "new": [0, 0]})
    for outcome in outcomes:
        for which, decisions in (("old", outcome.old), ("new", outcome.new)):
            entry = counts[f"{outcome.label}/{outcome.kind}"][which]
            entry[0] += sum(d is not None for d in decisions)
            entry[1] += len(decisions)
    return counts


def summary(outcomes: Sequence[Outcome], which: str) -> tuple[float, int, int, int]:
    """(recall over all repost kinds, merged follow-ups, merged distinct pairs, positives)."""
    counts = tally(outcomes)
    found = sum(v[which][0] for k, v in counts.items() if k.startswith(POSITIVE))
    total = sum(v[which][1] for k, v in counts.items() if k.startswith(POSITIVE))
    follow = sum(v[which][0] for k, v in counts.items() if k.startswith(FOLLOW_UP))
    distinct = sum(v[which][0] for k, v in counts.items() if k.startswith(DISTINCT))
    return found / max(total, 1), follow, distinct, total


def _decision_row(name: str, articles: int, outcomes: list[Outcome]) -> Row:
    new, old = summary(outcomes, "new"), summary(outcomes, "old")
    negatives = sum(o.label != POSITIVE for o in outcomes) * 2
    precision = (new[0] * new[3]) / max(new[0] * new[3] + new[1] + new[2], 1)
    return Row(
        f"6a. Near-duplicate recall, {name} ({articles} articles, {new[3]:,} repost and "
        f"{negatives:,} negative decisions)",
        f"recall {new[0]:.3f}, precision {precision:.3f} ({new[1]} follow-ups and {new[2]} "
        "distinct pairs merged)",
        f"old decision: recall {old[0]:.3f} ({old[1]} follow-ups, {old[2]} distinct merged)",
        f"target recall ≥ {TARGET_RECALL}, no merge",
        new[0] >= TARGET_RECALL and new[1] == 0 and new[2] == 0,
    )


def _kind_section(name: str, articles: int, outcomes: list[Outcome]) -> str:
    counts = tally(outcomes)
    methods: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for outcome in outcomes:
        for method in outcome.new:
            if method is not None:
                methods[f"{outcome.label}/{outcome.kind}"][method] += 1
    table = markdown_table(
        ("label / kind", "decisions", "old: matched", "new: matched", "new: by method"),
        (
            (
                key,
                str(value["new"][1]),
                f"{value['old'][0] / value['old'][1]:.3f}",
                f"{value['new'][0] / value['new'][1]:.3f}",
                ", ".join(f"{m} {n}" for m, n in sorted(methods[key].items())) or "—",
            )
            for key, value in counts.items()
        ),
    )
    return (
        f"## 6a. Near-duplicates per kind: {name} ({articles} articles)\n\n"
        'Each pair decided in both arrival orders; for positives "matched" is recall, for '
        "follow-ups and distinct pairs it is the false-merge rate.\n\n" + table
    )


# (b) the lookup at N fingerprints ----------------------------------------------------------------


def build_store(path: Path, size: int, seed: int) -> tuple[Store, np.ndarray, list[Sketch]]:
    """A file store of `size` fingerprints by SQL: the newest RECENT_LIMIT in the 30-day window,
    each with a sketch of SKETCH_HASHES random hashes; the older ones before it, without."""
    rng = np.random.default_rng([seed, size])
    values = rng.integers(0, 2**64, size=size, dtype=np.uint64)
    sketches = [
        Sketch(np.unique(rng.integers(0, 2**32, size=SKETCH_HASHES, dtype=np.uint32)))
        for _ in range(min(RECENT_LIMIT, size))
    ]
    store = Store.open(path)
    now = utcnow()
    recent_from = size - len(sketches)

    def fetched_at(i: int) -> str | None:
        old = i < recent_from
        return to_iso(
            now - (timedelta(days=31, minutes=size - i) if old else timedelta(minutes=size - i))
        )

    with store.transaction():
        store.db.conn.executemany(
            "INSERT INTO articles (id, url, source, title, fetched_at, text, title_key, simhash)"
            " VALUES (?, ?, 'bench', ?, ?, '', ?, 'x')",
            (
                (i + 1, f"https://bench.example/a/{i}", f"a{i}", fetched_at(i), f"t{i}")
                for i in range(size)
            ),
        )
        store.db.conn.executemany(
            "INSERT INTO fingerprints (article_id, value, b0, b1, b2, b3, sketch)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    i + 1,
                    to_signed(v),
                    *split_bands(v),
                    sketches[i - recent_from].to_bytes() if i >= recent_from else None,
                )
                for i, v in enumerate(map(int, values))
            ),
        )
    return store, values, sketches


def lookup_queries(
    values: np.ndarray, sketches: list[Sketch], count: int, seed: int
) -> list[tuple[int, Sketch]]:
    """(fingerprint, sketch): 80 % random, 10 % 1-10 bits and 10 % 11-22 bits from a recent
    fingerprint (the latter with a sketch inside that fingerprint's)."""
    rng = random.Random(seed)
    size, recent = len(values), len(sketches)
    queries = []
    for index in range(count):
        kind = index % 10
        fresh = Sketch(
            np.unique(
                np.array([rng.getrandbits(32) for _ in range(SKETCH_HASHES)], dtype=np.uint32)
            )
        )
        if kind >= 2:
            queries.append((rng.getrandbits(64), fresh))
            continue
        target = rng.randrange(recent)
        value = int(values[size - recent + target])
        flips = rng.randint(1, 10) if kind == 0 else rng.randint(11, SKETCH_DISTANCE)
        for bit in rng.sample(range(64), flips):
            value ^= 1 << bit
        inside = Sketch(sketches[target].hashes[: int(len(sketches[target]) * 0.8)])
        queries.append((value, inside if kind == 1 else fresh))
    rng.shuffle(queries)
    return queries


def _lookup_row(ctx: Context, size: int) -> Row:
    lookups = min(ctx.options.lookups, 2_000)
    path = ctx.path(f"neardup-{size}.db")
    store, values, sketches = build_store(path, size, ctx.options.seed)
    try:
        queries = lookup_queries(values, sketches, lookups, ctx.options.seed)
        store.find_original(queries[0][0], "")  # loads the recent window
        old, _ = _timed(lambda q: store.find_original(q[0], ""), queries)
        new, found = _timed(lambda q: store.find_original(q[0], "", sketch=q[1]), queries)
    finally:
        store.close()
    tier = sum(f is not None and f.method == "containment" for f in found)
    ctx.sections.append(
        f"## 6b. Lookup at {size:,} fingerprints\n\n"
        f"{lookups:,} lookups each way; today's: median {seconds(median(new))}, p99 "
        f"{seconds(percentile(new, 0.99))}, {tier} found by the second tier; without a sketch "
        f"(simhash only): median {seconds(median(old))}, p99 {seconds(percentile(old, 0.99))}."
    )
    return Row(
        f"6b. Near-duplicate lookup with the second tier at {size:,} fingerprints (median)",
        f"{seconds(median(new))} (p99 {seconds(percentile(new, 0.99))})",
        f"simhash only {seconds(median(old))}",
        f"target ≤ {seconds(TARGET_LOOKUP)}",
        median(new) <= TARGET_LOOKUP,
    )


def _timed(call: Callable[[Any], Any], items: Sequence[Any]) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for item in items:
        start = time.perf_counter()
        results.append(call(item))
        times.append(time.perf_counter() - start)
    return times, results


# (c) the cost per related article -----------------------------------------------------------------


def ingest_stream(count: int, seed: int) -> list[Article]:
    """Related articles as a crawl meets them: originals, reposts and truncated copies."""
    rng = random.Random(seed)
    generator = TextGenerator(rng)
    articles: list[Article] = []
    while len(articles) < count:
        story = generator.article(on_topic=True)
        number = len(articles)
        articles.append(Article(f"https://a.example/{number}", story.title, story.text))
        if rng.random() < 0.3:
            copy = generator.repost(story)
            articles.append(Article(f"https://b.example/{number}", copy.title, copy.text))
        if rng.random() < 0.2:
            cut = story.text[: int(len(story.text) * 0.6)] + "……阅读全文"
            articles.append(Article(f"https://c.example/{number}", story.title, cut))
    return articles[:count]


def ingest_old(store: Store, article: Article, topics: Sequence[Topic]) -> None:
    """The ingest of a related article before issue 10: simhash only, no sketch, no 原标题."""
    features = Features.of(article)
    matches = match_topics(features, topics)
    chars = features.compact
    value = fingerprint_compact(chars) if len(chars) >= MIN_FINGERPRINT_CHARS else None
    with store.transaction():
        key = title_key(article.title)
        original = store.find_original(value, key)
        if original is None:
            store.save_article(
                article, source="bench", title_key=key, fingerprint=value, topics=matches
            )
        else:
            store.save_duplicate(article, source="bench", original=original, fingerprint=value)


def _cost_row(ctx: Context) -> Row:
    mode = "quick" if ctx.options.quick else "full"
    articles = ingest_stream(INGEST_ARTICLES[mode], ctx.options.seed)
    topics = [Topic("interop", "interop", parse_query("阿里 OR 腾讯 OR 淘宝 OR 微信"), ())]
    old_runs, new_runs = [], []
    for run in range(INGEST_RUNS[mode]):
        for which, runs in (("old", old_runs), ("new", new_runs)):
            store = Store.open(ctx.path(f"ingest-{which}-{run}.db"))
            start = time.process_time()
            for article in articles:
                if which == "old":
                    ingest_old(store, article, topics)
                else:
                    ingest_article(store, article, source="bench", topics=topics)
            runs.append((time.process_time() - start) / len(articles))
            store.close()
    old, new = median(old_runs), median(new_runs)
    crawl = ctx.crawl_cpu_per_article
    share = (
        f"; {(new - old) / crawl:+.1%} of the crawl's {seconds(crawl)} CPU per article"
        if crawl
        else ""
    )
    ctx.sections.append(
        f"## 6c. Deduplication cost per related article\n\n{len(articles)} generated related "
        f"articles (30 % reposts, 20 % truncated copies), {INGEST_RUNS[mode]} runs each, CPU time: "
        f"old ingest {seconds(old)}, today's {seconds(new)} ({(new - old) / old:+.1%}){share}."
    )
    return Row(
        "6c. Ingest CPU per related article (features, fingerprint, lookup, save)",
        seconds(new),
        f"old decision {seconds(old)}",
        f"{(new - old) / old:+.1%} of ingest{share}; target crawl cost ≤ +{TARGET_COST:.0%}"
        + ("" if crawl else " (run with measurement 1 for the crawl's share)"),
        (new - old) / crawl <= TARGET_COST if crawl else None,
    )
