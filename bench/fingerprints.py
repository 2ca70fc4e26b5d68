"""Measurement 4: the fingerprint of a 5,000-character article.

followup's `crawler.fingerprint.fingerprint` (character 3-grams, numpy) against the simhash
package's default, `simhash.Simhash(text)` (4-character features, md5 per feature). The text is a
generated on-topic article cut to exactly 5,000 characters; each figure is the median of many
calls after a few warm-up calls.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from simhash import Simhash

from bench.context import Context
from bench.report import Row, median, ratio, seconds
from bench.textgen import TextGenerator
from crawler.fingerprint import fingerprint

CHARS = 5_000
TARGET = 1e-3
CALLS = {"followup": 300, "simhash": 40}
QUICK_CALLS = {"followup": 30, "simhash": 5}
WARM_UP = 3


def sample_text(seed: int) -> str:
    """A generated article of exactly CHARS characters."""
    story = TextGenerator(random.Random(seed)).article(
        on_topic=True, min_chars=CHARS + 500, max_chars=CHARS + 1500
    )
    return story.text[:CHARS]


def median_time(call: Callable[[], Any], calls: int) -> float:
    for _ in range(WARM_UP):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return median(times)


def measure_fingerprint(ctx: Context) -> list[Row]:
    text = sample_text(ctx.options.seed)
    calls = QUICK_CALLS if ctx.options.quick else CALLS
    ours = median_time(lambda: fingerprint(text), calls["followup"])
    theirs = median_time(lambda: Simhash(text).value, calls["simhash"])
    return [
        Row(
            f"4. Fingerprint of a {CHARS:,}-character article (median)",
            seconds(ours),
            f"simhash.Simhash(text) {seconds(theirs)}",
            f"{ratio(theirs / ours)} faster (target ≤ 1 ms)",
            ours <= TARGET,
        )
    ]
