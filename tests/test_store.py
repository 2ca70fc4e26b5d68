"""The SQLite store: schema, WAL, the near-duplicate index across processes, retries, atomicity."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from crawler.dates import utcnow
from crawler.fingerprint import BAND_DISTANCE, NEAR_DISTANCE, from_hex
from crawler.model import Article
from crawler.schema import MIGRATIONS
from crawler.seen import MAX_ATTEMPTS, RETRY_AFTER
from crawler.store import Store, StoreError
from tests.helpers import WAIT_CEILING

HIGH = 0xF0E1D2C3B4A59687  # ≥ 2**63: does not fit SQLite's signed INTEGER as it is


def article(n: int) -> Article:
    return Article(f"https://news.example.com/a/{n}.html", f"标题{n}", f"正文{n}" * 100)


def flip(value: int, bits: int) -> int:
    """value with its lowest `bits` bits flipped, spread over all four bands."""
    positions = [(i % 4) * 16 + i // 4 for i in range(bits)]
    return value ^ sum(1 << p for p in positions)


def save(store: Store, n: int, value: int | None) -> int:
    with store.transaction():
        return store.save_article(
            article(n),
            source="news",
            title_key=f"标题{n}",
            fingerprint=value,
            topics={"t": ["淘宝"]},
        )


def test_opens_in_wal_mode_with_the_schema(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {
        "articles",
        "article_topics",
        "duplicates",
        "seen",
        "crawl_runs",
        "fingerprints",
        "source_state",
        "http_validators",
        "article_versions",
    } <= set(store.db.table_names())
    store.close()
    Store.open(tmp_path / "f.db").close()  # migrations are applied once
    db = Database(tmp_path / "f.db")
    names = [r["name"] for r in db.query("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert names == [
        "m001_initial",
        "m002_search_index",
        "m003_monitoring",
        "m004_robots_txt",
        "m006_neardup",
        "m008_notifications",
        "m009_serve",
        "m010_search",
        "m011_nodes",
        "m012_fts",
        "m013_scale",
        "m014_flat",
    ]
    assert MIGRATIONS.pending(db) == []


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("this is a text file, not SQLite " * 100)
    with pytest.raises(StoreError, match=r"cannot use .*notes.db as a followup database"):
        Store.open(bad)
    with pytest.raises(StoreError, match=r"directory .* does not exist"):
        Store.open(tmp_path / "missing" / "f.db")


def test_a_simhash_above_2_63_is_stored_and_read_back(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    article_id = save(store, 1, HIGH)
    row = store.db.execute("SELECT simhash FROM articles WHERE id = ?", [article_id]).fetchone()
    assert from_hex(row[0]) == HIGH
    value = store.db.execute("SELECT value FROM fingerprints").fetchone()[0]
    assert value < 0  # stored signed, on purpose
    assert store.find_original(HIGH, "") == store.find_original(HIGH, "x")
    original = store.find_original(HIGH, "")
    assert original is not None and (original.article_id, original.distance) == (article_id, 0)


def test_near_duplicate_index_is_shared_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    reader = Store.open(path)  # opened before the other process writes
    assert reader.find_original(HIGH, "") is None
    code = (
        "from crawler.store import Store; from crawler.model import Article\n"
        f"s = Store.open({str(path)!r})\n"
        "with s.transaction():\n"
        f"    s.save_article(Article('https://x.example/1', 't', 'x'), source='a', title_key='t', fingerprint={HIGH}, topics={{'t': []}})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=WAIT_CEILING)

    by_band = reader.find_original(flip(HIGH, BAND_DISTANCE), "")
    assert by_band is not None and by_band.distance == BAND_DISTANCE
    # Beyond what the bands guarantee, the recent window (reloaded from SQLite) still finds it.
    by_window = reader.find_original(flip(HIGH, NEAR_DISTANCE), "")
    assert by_window is not None and by_window.distance == NEAR_DISTANCE
    assert reader.find_original(flip(HIGH, NEAR_DISTANCE + 1), "") is None
    # A fresh process (a restart) sees the same.
    fresh = Store.open(path)
    found = fresh.find_original(flip(HIGH, NEAR_DISTANCE), "")
    assert found is not None and found.url == "https://x.example/1"


def test_band_lookup_finds_old_articles_outside_the_recent_window(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    article_id = save(store, 1, HIGH)
    store.db.execute("UPDATE articles SET fetched_at = '2020-01-01T00:00:00Z'")
    fresh = Store.open(tmp_path / "f.db")
    near = fresh.find_original(flip(HIGH, BAND_DISTANCE), "")
    assert near is not None and near.article_id == article_id
    assert fresh.find_original(flip(HIGH, NEAR_DISTANCE), "") is None  # four bands all differ


def test_short_texts_match_by_title(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    article_id = save(store, 1, None)
    original = store.find_original(None, "标题1")
    assert original is not None and (original.article_id, original.method) == (article_id, "title")
    assert store.find_original(None, "标题2") is None


def test_failures_are_retried_later_with_growing_waits(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    url = "https://news.example.com/a/9.html"
    store.save_seen(url, "news", "blocked", detail="verification page")
    now = utcnow()
    assert store.get_known([url], now=now) == {url}
    assert store.get_known([url], now=now + RETRY_AFTER + timedelta(seconds=1)) == set()
    store.save_seen(url, "news", "failed", detail="HTTP 500")
    assert store.get_known([url], now=now + RETRY_AFTER + timedelta(seconds=1)) == {url}
    assert store.get_known([url], now=now + 2 * RETRY_AFTER + timedelta(seconds=1)) == set()
    for _ in range(MAX_ATTEMPTS):
        store.save_seen(url, "news", "failed")
    assert store.get_known([url], now=now + timedelta(days=365)) == {url}  # given up
    assert store.get_seen([url])[url]["first_seen"] <= store.get_seen([url])[url]["last_seen"]


def test_final_statuses_are_never_retried(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    store.save_seen("https://a.example/1", "a", "irrelevant")
    assert store.get_known(["https://a.example/1"], now=utcnow() + timedelta(days=999)) == {
        "https://a.example/1"
    }


def test_a_failed_write_leaves_neither_article_nor_seen_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(tmp_path / "f.db")

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed between the two writes")

    monkeypatch.setattr(store, "save_seen", crash)
    with pytest.raises(RuntimeError):
        save(store, 1, HIGH)
    assert store.db["articles"].count == 0 and store.db["fingerprints"].count == 0
    assert store.db["seen"].count == 0


def test_outcomes_held_back_are_written_in_the_next_transaction_and_survive_its_rollback(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "followup.db")
    reader = Database(tmp_path / "followup.db")
    unrelated = "https://news.example.com/a/unrelated.html"
    store.save_seen_later(unrelated, "news", "irrelevant")
    assert reader.execute("SELECT count(*) FROM seen").fetchone()[0] == 0
    with pytest.raises(RuntimeError), store.transaction():
        store.save_seen("https://news.example.com/a/1.html", "news", "stored")
        raise RuntimeError("the article's write failed")
    assert reader.execute("SELECT count(*) FROM seen").fetchone()[0] == 0
    save(store, 2, None)  # commits the held outcome with the article, in one transaction
    assert (unrelated,) in reader.execute("SELECT url FROM seen").fetchall()
    assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    store.close()
