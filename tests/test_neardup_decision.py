"""The near-duplicate decision of issue 10 in process: Store.find_original and ingest against the
labelled set of tests/neardup/tiers.py, and the schema that holds sketches and 原标题 keys."""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlite_utils import Database

from crawler.config import Topic
from crawler.ingest import Outcome, ingest_article
from crawler.model import Article
from crawler.query import parse_query
from crawler.sketch import Sketch
from crawler.store import Store
from crawler.text import strip_boilerplate
from tests.neardup.corpus import load_articles
from tests.neardup.tiers import (
    ALL_KINDS,
    DISTINCT,
    FOLLOW_UP,
    NEW_KINDS,
    POSITIVE,
    Pair,
    Text,
    decide,
    evaluate,
    iter_pairs,
    signature,
)

# Every text of the labelled set has one of these: the decision, not relevance, is under test.
TOPICS = [Topic("any", "any", parse_query("的 OR 了 OR 在 OR 是 OR 和 OR 阿里 OR 腾讯"), ())]


@pytest.fixture(scope="module")
def pairs() -> list[Pair]:
    return list(iter_pairs(load_articles(), copies=1))


@pytest.fixture(scope="module")
def migrated() -> Iterator[sqlite3.Connection]:
    """An empty in-memory store's database, migrated once: copying it is ~20 times faster than
    migrating again, and the decision test needs a fresh store for each of ~900 orders."""
    store = Store.memory()
    yield store.db.conn
    store.close()


def fresh_store(migrated: sqlite3.Connection) -> Store:
    """A new empty in-memory store: a copy of the migrated one (SQLite's backup API)."""
    connection = sqlite3.connect(":memory:")
    migrated.backup(connection)
    return Store(Database(connection))


def ingest_pair(first: Text, second: Text, migrated: sqlite3.Connection) -> Outcome:
    store = fresh_store(migrated)
    for number, text in enumerate((first, second)):
        # As extraction gives it: credit lines already stripped.
        article = Article(f"https://example.com/{number}", text.title, strip_boilerplate(text.body))
        outcome = ingest_article(store, article, source="s", topics=TOPICS)
    return outcome


def test_the_store_decides_as_the_measured_decision(
    pairs: list[Pair], migrated: sqlite3.Connection
) -> None:
    """What bench measurement 6 counts is what ingest does, in both arrival orders."""
    distinct = [p for p in pairs if p.label == DISTINCT][:120]
    sample = [p for p in pairs if p.label != DISTINCT] + distinct
    seen = Counter()
    for pair in sample:
        for first, second in ((pair.original, pair.other), (pair.other, pair.original)):
            expected = decide(signature(second), signature(first))
            outcome = ingest_pair(first, second, migrated)
            method = outcome.original.method if outcome.original else None
            assert (outcome.status, method) == ("duplicate" if expected else "stored", expected), (
                pair.label,
                pair.kind,
            )
            seen[expected] += 1
    assert seen["containment"] > 0 and seen["title"] > 0 and seen["simhash"] > 0


def test_labelled_set_targets(pairs: list[Pair]) -> None:
    outcomes = list(evaluate(pairs))
    positive = [o for o in outcomes if o.label == POSITIVE]
    found = sum(m is not None for o in positive for m in o.new)
    found_before = sum(m is not None for o in positive for m in o.old)
    assert found / (2 * len(positive)) >= 0.97
    assert found_before / (2 * len(positive)) < 0.85  # what the second tier and titles add
    merged = [o for o in outcomes if o.label in (FOLLOW_UP, DISTINCT) and any(o.new)]
    assert merged == []
    assert {o.kind for o in positive} == set(ALL_KINDS)


@pytest.mark.parametrize("kind", list(NEW_KINDS))
def test_every_new_kind_is_found_in_both_orders(pairs: list[Pair], kind: str) -> None:
    outcomes = [o for o in evaluate(p for p in pairs if p.kind == kind)]
    assert outcomes and all(None not in o.new for o in outcomes)


def test_sketches_and_original_titles_are_stored() -> None:
    store = Store.memory()
    body = "\n".join(article.body for article in load_articles()[:1])
    ingest_article(
        store, Article("https://e.com/1", "淘宝接入微信支付", body), source="s", topics=TOPICS
    )
    short = f"原标题：《淘宝与微信支付打通》\n{body[:100]}"
    ingest_article(store, Article("https://e.com/2", "新标题", short), source="s", topics=TOPICS)
    rows = list(store.db.query("SELECT article_id, sketch FROM fingerprints"))
    assert len(rows) == 1 and len(Sketch.from_bytes(rows[0]["sketch"])) > 50
    keys = [r["original_title_key"] for r in store.db.query("SELECT * FROM articles ORDER BY id")]
    assert keys == [None, "淘宝与微信支付打通"]


def test_fingerprints_without_a_sketch_get_no_second_tier() -> None:
    """Rows written before m006_neardup have no sketch: they are skipped, not an error."""
    store = Store.memory()
    texts = load_articles()[1]
    whole = Article("https://e.com/1", texts.title, texts.body)
    assert ingest_article(store, whole, source="s", topics=TOPICS).status == "stored"
    store.db.execute("UPDATE fingerprints SET sketch = NULL")
    cut = "\n".join(texts.body.split("\n")[:2])
    assert (
        ingest_article(
            store, Article("https://e.com/2", "x", cut), source="s", topics=TOPICS
        ).status
        == "stored"
    )


def test_recent_window_candidates_closest_first() -> None:
    store = Store.memory()
    base = 0
    with store.transaction():
        for article_id, flips in enumerate((15, 12, 25, 3), start=1):
            store.db.execute(
                "INSERT INTO articles (id, url, source, title, fetched_at, text, title_key)"
                " VALUES (?, ?, 's', 't', '2999-01-01T00:00:00Z', '', 't')",
                [article_id, f"https://e.com/{article_id}"],
            )
            store.neardup.save_fingerprint(article_id, base ^ ((1 << flips) - 1))
    store.neardup.recent.refresh(store.db, since=datetime(2000, 1, 1, tzinfo=UTC))
    found = store.neardup.recent.within(base, 11, 20, limit=16)
    assert [distance for _, distance in found] == [12, 15]
    assert store.neardup.recent.within(base, 11, 20, limit=1) == found[:1]
    assert list(itertools.chain(*store.neardup.recent.within(base, 0, 64, limit=16)))[1::2] == [
        3,
        12,
        15,
        25,
    ]
