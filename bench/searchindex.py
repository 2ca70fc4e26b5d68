"""Measurement 10's search-index figures (m012_fts): the store's bytes per article beside the
indexes before, built on the same store, and the CPU an article's indexing costs on the crawl
path, batched from the queue beside the per-article triggers it replaced.

Sizes: the trigram index of m002 (the store before m010_search) and the trigram + bigram indexes
of m010, each built by SQL on the very store measured, sized with dbstat, then dropped. Indexing:
a fresh in-memory store per side gets the same ARTICLES generated articles (crawl-sized texts),
each article its own BEGIN IMMEDIATE transaction as StorePipeline writes it; CPU time of the
whole loop (indexing included) per article, the median of RUNS.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from pathlib import Path

from sqlite_utils import Database

from bench.report import Row, ratio, seconds
from bench.textgen import TextGenerator
from crawler.model import Article
from crawler.search import BIGRAM_SCHEMA, register_search_functions
from crawler.store import Store

ARTICLES = 1_000
QUICK_ARTICLES = 50  # --quick: a smoke run
RUNS = 3
TRIGRAM = """CREATE VIRTUAL TABLE bench_trigram USING fts5(title, text, content='articles',
    content_rowid='id', tokenize='trigram')"""
BIGRAMS = BIGRAM_SCHEMA[0].replace("articles_bigrams", "bench_bigrams")


def index_bytes(conn: sqlite3.Connection, prefix: str) -> int:
    """Bytes of the pages of every table whose name starts with prefix."""
    return int(
        conn.execute(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE ?", [f"{prefix}%"]
        ).fetchone()[0]
    )


def size_rows(path: Path, size: int) -> list[Row]:
    """Bytes per article of the store, beside the store with the indexes of m002 and m010."""
    with sqlite3.connect(path) as conn:
        total = int(conn.execute("SELECT sum(pgsize) FROM dbstat").fetchone()[0])
        ours = index_bytes(conn, "articles_search")
        rest = total - ours - index_bytes(conn, "search_queue")
        for leftover in ("bench_trigram", "bench_bigrams"):  # of an interrupted run
            conn.execute(f"DROP TABLE IF EXISTS {leftover}")
        conn.execute(TRIGRAM)
        conn.execute("INSERT INTO bench_trigram (bench_trigram) VALUES ('rebuild')")
        trigram = index_bytes(conn, "bench_trigram")
        register_search_functions(Database(conn))  # followup_bigrams(), as m010 had it
        conn.execute(BIGRAMS)
        conn.execute(
            "INSERT INTO bench_bigrams (rowid, title, text) "
            "SELECT id, followup_bigrams(title), followup_bigrams(text) FROM articles"
        )
        bigrams = index_bytes(conn, "bench_bigrams")
        conn.execute("DROP TABLE bench_trigram")
        conn.execute("DROP TABLE bench_bigrams")
    conn.close()
    before, m010 = rest + trigram, rest + trigram + bigrams
    label = f"{size:,} articles (search index {ours / size:,.0f}; trigram {trigram / size:,.0f}"
    return [
        Row(
            f"10. Store bytes per article, {label}, bigrams {bigrams / size:,.0f})",
            f"{(rest + ours) / size:,.0f}",
            f"{before / size:,.0f} before m010 (trigram); {m010 / size:,.0f} with m010",
            ratio((rest + ours) / before),
            rest + ours <= before,
        )
    ]


def _articles(seed: int, count: int) -> list[Article]:
    text = TextGenerator(random.Random(seed))
    return [
        Article(
            f"https://bench.example/{i}",
            text.headline(),
            text.article(on_topic=i % 3 == 0, min_chars=1_500, max_chars=3_000).text,
        )
        for i in range(count)
    ]


def _store_all(store: Store, articles: list[Article]) -> float:
    started = time.process_time()
    for number, article in enumerate(articles):
        with store.transaction():
            store.save_article(
                article, source="s", title_key=str(number), fingerprint=None, topics={"t": []}
            )
    store.close()
    return (time.process_time() - started) / len(articles)


def _per_article_triggers() -> Store:
    """A store indexed as before m012_fts: trigram and bigram index in each article's
    transaction (their triggers), no queue."""
    store = Store.memory()
    db = store.db
    db.execute("DROP TRIGGER search_queue_ai")
    db.table("articles").enable_fts(["title", "text"], tokenize="trigram", create_triggers=True)
    register_search_functions(db)
    for statement in BIGRAM_SCHEMA[:2]:
        db.execute(statement)
    return store


def indexing_rows(seed: int, *, quick: bool = False) -> list[Row]:
    articles = _articles(seed, QUICK_ARTICLES if quick else ARTICLES)
    ours = statistics.median(_store_all(Store.memory(), articles) for _ in range(RUNS))
    before = statistics.median(_store_all(_per_article_triggers(), articles) for _ in range(RUNS))
    return [
        Row(
            f"10. CPU to store and index an article ({len(articles):,} of 1.5–3k characters, "
            "a transaction each)",
            seconds(ours),
            f"{seconds(before)} (trigram + bigram triggers per article)",
            ratio(ours / before),
            ours <= before,
        )
    ]
