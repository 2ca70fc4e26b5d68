"""The README's demo block is what `followup demo` prints, so the docs cannot drift (issue 9,
point 12). Regenerate it with `.venv/bin/python -m tests.readme_demo --write`."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from scrapy.crawler import Crawler

from crawler.ingest import Outcome
from crawler.neardup import Original
from crawler.pipelines import StorePipeline
from crawler.report import stats_key
from tests.readme_demo import readme_diff, run_demo


def test_readme_demo_block_is_what_the_demo_prints() -> None:
    printed = run_demo()
    diff = readme_diff(printed)
    assert not diff, (
        "README.md's demo block differs from what `followup demo` prints; if the change is "
        "deliberate, run `.venv/bin/python -m tests.readme_demo --write`:\n" + diff
    )


class Counter:
    """The part of Scrapy's stats collector the pipeline uses, as a dict."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + count


def figures(outcomes: list[tuple[str, Outcome]]) -> dict[str, int]:
    pipeline = StorePipeline(cast(Crawler, SimpleNamespace(stats=Counter())))
    for source, outcome in outcomes:
        pipeline._count_outcome(source, outcome)
    return {k: v for k, v in pipeline.crawler.stats.values.items() if v}  # type: ignore[union-attr]


def test_figures_are_the_same_whichever_copy_comes_first() -> None:
    original = Original(7, "https://repost.example/1", 2, "simhash")
    repost_first = [
        ("repost", Outcome("stored", 7)),
        ("origin", Outcome("earlier", 7, original)),
    ]
    origin_first = [
        ("origin", Outcome("stored", 7)),
        ("repost", Outcome("duplicate", 7, original)),
    ]
    expected = {stats_key("origin", "new"): 1, stats_key("repost", "duplicates"): 1}
    assert figures(repost_first) == figures(origin_first) == expected
    # A copy stored by an earlier crawl stays that crawl's: this one met a duplicate.
    assert figures([("origin", Outcome("earlier", 7, original))]) == {
        stats_key("origin", "duplicates"): 1
    }
