"""Print the measurements behind crawler.fingerprint's constants (not a test).

Run from the project root: `.venv/bin/python -m tests.neardup.measure`
"""

from __future__ import annotations

import functools
import statistics
import timeit
from collections import defaultdict
from collections.abc import Callable
from math import comb

import numpy as np
import simhash

from crawler.fingerprint import (
    BAND_DISTANCE,
    MIN_FINGERPRINT_CHARS,
    NEAR_DISTANCE,
    NGRAM,
    fingerprint,
    hamming,
    hash_ngrams,
    majority_vote,
    splitmix64,
)
from crawler.text import compact

from .corpus import (
    DISTINCT,
    EXCERPT_PAIR,
    POSITIVE,
    SHORT_KINDS,
    Article,
    Pair,
    distances,
    iter_pairs,
    load_articles,
    make_variants,
    short_text,
)

NGRAMS = (2, 3, 4)
SEEDS = 8  # hash functions averaged over, so a choice is not one hash function's luck
THRESHOLDS = range(3, 17)
SHORT_TARGETS = (20, 30, 40, 60, 80, 100, 130, 160, 200, 250, 300, 400)
SHORT_BINS = (0, 50, 100, 150, 200, 300, 400)
TIMING_CHARS = 5000


def make_fingerprinter(n: int, *, seed: int = 0, distinct: bool = False) -> Callable[[str], int]:
    """Fingerprints with n-grams, another hash function (seed) or set weighting, cached."""

    def compute(text: str) -> int:
        hashes = hash_ngrams(compact(text), n)
        if seed:
            hashes = splitmix64(hashes ^ np.uint64(seed * 0x5851F42D4C957F2D & (1 << 64) - 1))
        if distinct:
            hashes = np.unique(hashes)
        return majority_vote(hashes)

    return functools.cache(compute)


def share(values: list[int], limit: int) -> float:
    return sum(value <= limit for value in values) / len(values)


def percentile(values: list[int], fraction: float) -> int:
    return sorted(values)[min(len(values) - 1, int(fraction * len(values)))]


def separation(positive: list[int], distinct: list[int]) -> float:
    """d': distance between the two means in pooled standard deviations."""
    spread = ((statistics.pvariance(positive) + statistics.pvariance(distinct)) / 2) ** 0.5
    return (statistics.mean(distinct) - statistics.mean(positive)) / spread


def binomial_cdf(k: int, p: float, bits: int = 64) -> float:
    return sum(comb(bits, i) * p**i * (1 - p) ** (bits - i) for i in range(k + 1))


def print_feature_table(pairs: list[Pair]) -> None:
    print(f"## Features (NEAR_DISTANCE={NEAR_DISTANCE}; excerpts not in recall)")
    print(
        "features          | rec@3 | rec@near | max pos | p99 pos | min distinct | min art-art |"
        " excerpts<=near || over 8 hashes: rec@near | min distinct | d' | P(distinct<=near)"
    )
    configs = [(n, False) for n in NGRAMS] + [(NGRAM, True)]
    for n, distinct in configs:
        runs = [
            distances(pairs, make_fingerprinter(n, seed=s, distinct=distinct)) for s in range(SEEDS)
        ]
        pos, neg, exc = (
            [d for _, d in runs[0][label]] for label in (POSITIVE, DISTINCT, EXCERPT_PAIR)
        )
        articles = [d for kind, d in runs[0][DISTINCT] if kind == "article"]
        seeded_pos = [[d for _, d in run[POSITIVE]] for run in runs]
        seeded_neg = [[d for _, d in run[DISTINCT]] for run in runs]
        name = f"char {n}-grams" + (", set" if distinct else "")
        mean_separation = statistics.mean(
            separation(p, n) for p, n in zip(seeded_pos, seeded_neg, strict=True)
        )
        false_match = statistics.mean(
            binomial_cdf(NEAR_DISTANCE, statistics.mean(n) / 64) for n in seeded_neg
        )
        print(
            f"{name:17} | {share(pos, BAND_DISTANCE):.3f} | {share(pos, NEAR_DISTANCE):8.3f} |"
            f" {max(pos):7} | {percentile(pos, 0.99):7} | {min(neg):12} | {min(articles):11} |"
            f" {share(exc, NEAR_DISTANCE):14.2f} ||"
            f" {statistics.mean(share(p, NEAR_DISTANCE) for p in seeded_pos):23.3f} |"
            f" {statistics.mean(min(n) for n in seeded_neg):12.1f} |"
            f" {mean_separation:.2f} | {false_match:.1e}"
        )


def print_threshold_table(by_label: dict[str, list[tuple[str, int]]]) -> None:
    pos, neg, exc = (
        [d for _, d in by_label[label]] for label in (POSITIVE, DISTINCT, EXCERPT_PAIR)
    )
    p = statistics.mean(neg) / 64
    print(f"\n## Thresholds, char {NGRAM}-grams: {len(pos)} positive, {len(neg)} distinct pairs")
    print(f"distinct distance mean {statistics.mean(neg):.1f}, sd {statistics.pstdev(neg):.1f}")
    print(f"binomial sd at p={p:.3f}: {(64 * p * (1 - p)) ** 0.5:.1f}")
    print("k  | recall | distinct<=k | excerpts<=k | P(distinct<=k), Bin(64, p)")
    for k in THRESHOLDS:
        print(
            f"{k:2} | {share(pos, k):.3f} | {sum(d <= k for d in neg):11} |"
            f" {share(exc, k):11.2f} | {binomial_cdf(k, p):.1e}"
        )


def print_kind_table(by_label: dict[str, list[tuple[str, int]]]) -> None:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for label in (POSITIVE, EXCERPT_PAIR):
        for kind, d in by_label[label]:
            by_kind[kind].append(d)
    print(f"\n## Per kind, char {NGRAM}-grams")
    print("kind                          | pairs | mean | max | <=band | <=near")
    for kind, values in by_kind.items():
        print(
            f"{kind:29} | {len(values):5} | {statistics.mean(values):4.1f} | {max(values):3} |"
            f" {share(values, BAND_DISTANCE):6.2f} | {share(values, NEAR_DISTANCE):6.2f}"
        )


def print_short_table(articles: list[Article]) -> None:
    compute = make_fingerprinter(NGRAM)
    texts = {
        text.body: text
        for article in articles
        for target in SHORT_TARGETS
        for skip in (0, 3, 6, 9)
        if (text := short_text(article, target, skip=skip)).body
    }
    bins: dict[int, list[Article]] = defaultdict(list)
    for text in texts.values():
        bins[max(b for b in SHORT_BINS if len(compact(text.body)) >= b)].append(text)
    print(
        f"\n## Short texts, char {NGRAM}-grams (edits: one sentence; attribution: 据…报道 lead-in)"
    )
    print("compact chars | texts | edit1 max | attribution max | recall@near | min distinct")
    for low, end in zip(SHORT_BINS, [*SHORT_BINS[1:], None], strict=True):
        span = f"{low}-{end - 1}" if end else f"{low}-"
        group = bins[low]
        by_kind: dict[str, list[int]] = defaultdict(list)
        for text in group:
            for variant in make_variants(text, kinds=SHORT_KINDS):
                by_kind[variant.kind].append(hamming(compute(text.body), compute(variant.text)))
        positives = [d for values in by_kind.values() for d in values]
        distinct = [
            hamming(compute(a.body), compute(b.body))
            for a in group
            for b in group
            if a.id.split("@")[0] < b.id.split("@")[0]
        ]
        print(
            f"{span:13} | {len(group):5} |"
            f" {max(by_kind['edit1']):9} | {max(by_kind['attribution']):15} |"
            f" {share(positives, NEAR_DISTANCE):11.3f} | {min(distinct):12}"
        )
    print(f"MIN_FINGERPRINT_CHARS = {MIN_FINGERPRINT_CHARS}")


def print_timing(articles: list[Article]) -> None:
    text = "\n".join(article.body for article in articles * 3)[:TIMING_CHARS]
    runs = 200
    ours = min(timeit.repeat(lambda: fingerprint(text), number=runs, repeat=5)) / runs
    normalise = min(timeit.repeat(lambda: compact(text), number=runs, repeat=5)) / runs
    package_runs = 20
    package = (
        min(timeit.repeat(lambda: simhash.Simhash(text), number=package_runs, repeat=3))
        / package_runs
    )
    print(f"\n## Time per fingerprint of a {len(text)}-character text")
    print(
        f"crawler.fingerprint.fingerprint: {ours * 1e3:.3f} ms"
        f" (of which compact(): {normalise * 1e3:.3f} ms)"
    )
    print(f"simhash.Simhash(text) default:   {package * 1e3:.3f} ms ({package / ours:.0f}x)")


def main() -> None:
    articles = load_articles()
    variants = [variant for article in articles for variant in make_variants(article)]
    pairs = list(iter_pairs(articles, variants))
    print(f"{len(articles)} articles, {len(variants)} variants, {len(pairs)} labelled pairs\n")
    print_feature_table(pairs)
    by_label = distances(pairs, make_fingerprinter(NGRAM))
    print_threshold_table(by_label)
    print_kind_table(by_label)
    print_short_table(articles)
    print_timing(articles)


if __name__ == "__main__":
    main()
