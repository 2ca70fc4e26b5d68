"""How the default topic decides a labelled mixed feed (not a test).

Run from the project root: `.venv/bin/python -m tests.relevance.measure`
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from crawler.config import load_seeds
from crawler.query import Query, parse_query
from crawler.text import normalize

FEED = Path(__file__).parent / "feed.toml"
SEEDS = Path(__file__).parents[2] / "seeds"


@dataclass(frozen=True)
class Item:
    title: str
    text: str
    related: bool


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_positives, 1)

    @property
    def recall(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_negatives, 1)


def load_feed(path: Path = FEED) -> list[Item]:
    return [Item(**item) for item in tomllib.loads(path.read_text(encoding="utf-8"))["item"]]


def default_query() -> Query:
    """The query of seeds/topics.toml's first topic."""
    return load_seeds(SEEDS).topics[0].query


def without_except(query: Query) -> Query:
    """The same query as written before EXCEPT existed: every `x EXCEPT y` read as plain x."""
    source = " ".join(query.source.split())
    while " EXCEPT " in source:
        head, tail = source.split(" EXCEPT ", 1)
        source = head + " " + tail.split(" ", 1)[1]
    return parse_query(source)


def score(query: Query, items: list[Item]) -> Score:
    decided = [
        (query.match(normalize(f"{i.title}\n{i.text}")) is not None, i.related) for i in items
    ]
    return Score(
        sum(kept and related for kept, related in decided),
        sum(kept and not related for kept, related in decided),
        sum(not kept and related for kept, related in decided),
    )


def main() -> None:
    items = load_feed()
    query = default_query()
    print(f"{len(items)} items, {sum(i.related for i in items)} related")
    print("query                      | precision | recall | false positives")
    for name, candidate in (("default (EXCEPT)", query), ("before EXCEPT", without_except(query))):
        result = score(candidate, items)
        print(
            f"{name:26} | {result.precision:9.3f} | {result.recall:6.3f} | {result.false_positives}"
        )


if __name__ == "__main__":
    main()
