"""Search indexing off the crawl path (m012_fts): articles are queued in their own transaction,
indexed in batches, searchable in between, and a writer killed with -9 loses none of them."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import crawler.search
from crawler.model import Article
from crawler.search import SEARCH_BATCH, TOKEN_RUN_RE, index_pending, pair_text, search_articles
from crawler.store import Store, open_readonly
from crawler.web.app import build_datasette

CEILING = 120.0  # seconds a child may take to store its articles on a loaded machine


def save(store: Store, number: int, title: str, text: str) -> int:
    with store.transaction():
        return store.save_article(
            Article(f"https://a.example/{number}", title, text),
            source="s",
            title_key=str(number),
            fingerprint=None,
            topics={},
        )


def queued(store: Store) -> int:
    return int(store.db.execute("SELECT count(*) FROM search_queue").fetchone()[0])


def indexed(store: Store) -> int:
    return int(store.db.execute("SELECT count(*) FROM articles_search").fetchone()[0])


def test_articles_are_indexed_a_batch_at_a_time_off_their_transaction(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    for number in range(1, SEARCH_BATCH):
        save(store, number, f"标题{number}", "微信支付接入淘宝。")
    assert queued(store) == SEARCH_BATCH - 1 and indexed(store) == 0
    # Queued, not yet indexed: still found (checked with LIKE).
    assert len(search_articles(store.db, "微信支付", limit=1000).hits) == SEARCH_BATCH - 1
    save(store, SEARCH_BATCH, "最后一篇", "微信支付接入淘宝。")
    assert queued(store) == SEARCH_BATCH and indexed(store) == 0
    save(store, SEARCH_BATCH + 1, "又一篇", "支付宝。")  # the batch, before this article's write
    assert queued(store) == 1 and indexed(store) == SEARCH_BATCH
    store.close()
    with open_readonly(tmp_path / "f.db") as db:
        assert db.execute("SELECT count(*) FROM search_queue").fetchone()[0] == 0
        assert len(search_articles(db, "微信支付", limit=1000).hits) == SEARCH_BATCH


def test_a_revised_article_is_found_by_its_new_text_only_before_and_after_indexing(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "f.db")
    save(store, 1, "旧标题", "这里说的是微信。")
    store.index_search()
    current = store.get_article("https://a.example/1")
    assert current is not None
    with store.transaction():
        store.save_revision(
            current,
            Article("https://a.example/1", "新标题", "这里说的是支付宝。"),
            title_key="新标题",
            fingerprint=None,
            topics={},
        )
    for _ in ("queued", "indexed"):
        assert search_articles(store.db, "微信").hits == []
        assert [h.title for h in search_articles(store.db, "支付宝").hits] == ["新标题"]
        assert [h.title for h in search_articles(store.db, "新标题").hits] == ["[新标题]"]
        store.index_search()
    assert queued(store) == 0 and indexed(store) == 1
    store.db.execute("DELETE FROM article_versions")
    store.db.execute("DELETE FROM articles")
    assert search_articles(store.db, "支付宝").hits == []
    assert index_pending(store.db) == 1 and indexed(store) == 0
    store.close()


WRITER = """
import sys, time
from crawler.model import Article
from crawler.store import Store
store = Store.open(sys.argv[1])
for n in range(int(sys.argv[2])):
    with store.transaction():
        store.save_article(Article(f"https://a.example/{n}", f"第{n}篇", "腾讯与阿里的合作。"),
                           source="s", title_key=str(n), fingerprint=None, topics={})
print("stored", flush=True)
time.sleep(600)  # killed here, before any close indexes what it queued
"""


def test_a_writer_killed_with_9_leaves_its_articles_searchable_and_indexed_next_start(
    tmp_path: Path,
) -> None:
    path, stored = tmp_path / "f.db", SEARCH_BATCH + 30
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(stored)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    try:
        deadline = time.monotonic() + CEILING
        assert child.stdout is not None
        assert child.stdout.readline() == "stored\n"  # blocks until the child has stored them
        assert time.monotonic() < deadline
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=CEILING) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    with open_readonly(path) as db:
        left = db.execute("SELECT count(*) FROM search_queue").fetchone()[0]
        assert 0 < left < stored  # one batch indexed, the rest still queued at the kill
        assert len(search_articles(db, "腾讯", limit=1000).hits) == stored
    store = Store.open(path)  # the next start: a crawl, the daemon, a worker
    assert queued(store) == 0 and indexed(store) == stored
    store.close()


def test_the_datasette_search_box_finds_two_and_more_characters(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    save(store, 1, "微信支付接入淘宝", "正文一。")
    save(store, 2, "标题", "腾讯与阿里，支付宝，宝贝。")
    save(store, 3, "OpenAI 发布", "新模型。")
    store.close()
    datasette = build_datasette(tmp_path / "f.db")

    def found(term: str) -> list[int]:
        response = asyncio.run(
            datasette.client.get(
                "/followup/articles.json", params={"_search": term, "_shape": "array"}
            )
        )
        assert response.status_code == 200, response.text
        return sorted(row["id"] for row in response.json())

    assert found("微信支付") == [1]
    assert found("阿里") == [2]
    assert found("ai") == [3]  # inside OpenAI, any case
    assert found("付宝贝") == []  # across a comma: not a phrase of one run
    assert found("腾讯 阿里") == [2]
    assert found("中") == []  # nothing the index holds: no hit rather than an error


@pytest.mark.parametrize("batch", [1, 7])
def test_index_pending_takes_every_entry_of_an_article_together(tmp_path: Path, batch: int) -> None:
    store = Store.open(tmp_path / "f.db")
    save(store, 1, "一", "微信。")
    store.index_search()
    for text in ("支付宝。", "京东。", "美团。"):  # three queue entries for one indexed row
        store.db.execute("UPDATE articles SET text = ? WHERE id = 1", [text])
    save(store, 2, "二", "微信。")
    assert index_pending(store.db, batch=batch) == 2
    assert [h.url for h in search_articles(store.db, "美团").hits] == ["https://a.example/1"]
    assert [h.url for h in search_articles(store.db, "微信").hits] == ["https://a.example/2"]
    assert search_articles(store.db, "京东").hits == []
    store.close()


def test_pair_text_is_each_runs_pairs_on_random_strings() -> None:
    def plain(text: str) -> str:  # the definition, a string per pair in Python
        runs = (
            " ".join(r[i : i + 2] for i in range(len(r) - 1)) for r in TOKEN_RUN_RE.findall(text)
        )
        return " 0 ".join(pairs for pairs in runs if pairs)

    rng = random.Random(5)
    alphabet = "ab中文微信 ，。_-\u0301\U0001f600Ａ5\x00é"
    for _ in range(5_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert pair_text(text) == plain(text), text


def test_a_term_too_common_to_rank_lists_title_hits_then_the_rest_newest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(tmp_path / "f.db")
    save(store, 1, "腾讯一", "正文。")
    save(store, 2, "标题二", "腾讯腾讯腾讯。")
    save(store, 3, "腾讯三", "正文。")
    save(store, 4, "标题四", "腾讯。")
    store.index_search()
    save(store, 5, "标题五", "腾讯。")  # queued: after the indexed ones of its group
    save(store, 6, "腾讯六", "正文。")
    ranked = [h.url[-1] for h in search_articles(store.db, "腾讯").hits]
    monkeypatch.setattr(crawler.search, "RANKED_MATCHES", 3)
    common = search_articles(store.db, "腾讯", limit=10)
    assert [h.url[-1] for h in common.hits] == ["3", "1", "6", "4", "2", "5"]
    assert [h.in_title for h in common.hits] == [True, True, True, False, False, False]
    assert common.hits[0].title == "[腾讯]三"
    assert [h.url[-1] for h in search_articles(store.db, "腾讯", limit=2).hits] == ["3", "1"]
    assert ranked == ["3", "1", "6", "2", "4", "5"]  # below the limit: bm25, three mentions first
    store.close()
