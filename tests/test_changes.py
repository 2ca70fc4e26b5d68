"""Content hashes, validators, article versions and pruning `seen`, on the store itself."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from crawler.changes import Validators, content_hash, parse_validators
from crawler.config import Topic
from crawler.dates import utcnow
from crawler.ingest import ingest_article, revise_article
from crawler.model import Article
from crawler.query import parse_query
from crawler.seen import MAX_ATTEMPTS
from crawler.store import Store

TOPICS = (Topic("interop", "互联互通", parse_query("淘宝 微信")),)
TEXT = "淘宝接入微信支付的消息传出后，多家券商发布点评报告，认为增量可达数百亿元。" * 12
URL = "https://news.example.com/a/1.html"


def stored(store: Store, text: str = TEXT, *, source: str = "news") -> int:
    outcome = ingest_article(
        store, Article(URL, "淘宝接入微信支付", text), source=source, topics=TOPICS
    )
    assert outcome.article_id is not None
    return outcome.article_id


def test_content_hash_ignores_layout_but_not_words() -> None:
    base = content_hash("淘宝接入微信支付", "第一段，9亿用户。\n第二段！")
    assert (
        content_hash("淘宝接入微信支付 ", "第一段, 9亿用户.\n\n  第二段!") == base
    )  # width, space
    assert content_hash("淘宝接入微信支付", "第一段，10亿用户。\n第二段！") != base  # a number
    assert content_hash("淘宝全面接入微信支付", "第一段，9亿用户。\n第二段！") != base  # the title


def test_validators_become_conditional_headers() -> None:
    headers = {"ETag": ' "abc" ', "Last-Modified": "Sat, 21 Nov 2026 10:00:00 GMT"}
    validators = parse_validators(headers.get)
    assert validators.conditional
    assert validators.request_headers() == {
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Sat, 21 Nov 2026 10:00:00 GMT",
    }
    assert not parse_validators({}.get).conditional
    assert Validators().request_headers() == {}


def test_each_edit_keeps_the_version_it_replaces(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    article_id = stored(store)
    same = Article(URL, "淘宝接入微信支付", TEXT.replace("，", ", "))
    assert revise_article(store, same, source="news", topics=TOPICS) == "unchanged"
    assert store.db["article_versions"].count == 0

    second = TEXT.replace("数百亿元", "上千亿元")
    assert (
        revise_article(
            store, Article(URL, "淘宝接入微信支付", second), source="news", topics=TOPICS
        )
        == "revised"
    )
    third = second.replace("多家券商", "几家券商")
    assert (
        revise_article(
            store, Article(URL, "淘宝接入微信支付!", third), source="news", topics=TOPICS
        )
        == "revised"
    )

    versions = list(store.db.query("SELECT * FROM article_versions ORDER BY id"))
    article = store.get_article(URL)
    assert (
        article is not None and article["text"] == third and article["title"] == "淘宝接入微信支付!"
    )
    assert [v["text"] for v in versions] == [TEXT, second]
    assert {v["article_id"] for v in versions} == {article_id}
    # Each version was fetched when the one before it was replaced: a timeline without gaps.
    assert versions[0]["fetched_at"] == article["fetched_at"]
    assert versions[1]["fetched_at"] == versions[0]["replaced_at"]


def test_a_revision_is_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open(tmp_path / "f.db")
    stored(store)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed between the writes")

    monkeypatch.setattr(store.neardup, "save_fingerprint", crash)
    edited = Article(URL, "淘宝接入微信支付", TEXT.replace("数百亿元", "上千亿元"))
    with pytest.raises(RuntimeError):
        revise_article(store, edited, source="news", topics=TOPICS, validators=Validators("x"))
    assert store.db["article_versions"].count == 0 and store.db["http_validators"].count == 0
    article = store.get_article(URL)
    assert article is not None and article["text"] == TEXT


def test_only_the_source_that_stored_an_article_revises_it(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    stored(store, source="news")
    edited = Article(URL, "淘宝接入微信支付", TEXT.replace("数百亿元", "上千亿元"))
    assert revise_article(store, edited, source="other", topics=TOPICS) == "unknown"
    assert store.get_stored_hashes([URL], source="other") == {}
    assert store.get_stored_hashes([URL], source="news") == {
        URL: content_hash("淘宝接入微信支付", TEXT)
    }


def test_pruning_seen_forgets_old_unstored_urls_only(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    stored(store)  # seen: stored
    for n, status in enumerate(("irrelevant", "failed", "blocked")):
        store.save_seen(f"https://x.example/{n}", "news", status)
    store.save_seen("https://x.example/recent", "news", "irrelevant")
    old = (utcnow() - timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    store.db.execute("UPDATE seen SET last_seen = ? WHERE url != 'https://x.example/recent'", [old])

    assert store.prune_seen(before=utcnow() - timedelta(days=90)) == 3
    assert set(store.get_seen([URL, "https://x.example/recent", "https://x.example/0"])) == {
        URL,
        "https://x.example/recent",
    }
    # The stored article's URL is still known: it is never fetched and stored again.
    assert store.get_known([URL], now=utcnow() + timedelta(days=365)) == {URL}


def test_a_list_is_settled_when_nothing_in_it_waits_for_a_retry(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    store.save_seen("https://x.example/a", "news", "irrelevant")
    store.save_seen("https://x.example/b", "news", "failed")
    assert store.all_settled(["https://x.example/a"])
    assert not store.all_settled(
        ["https://x.example/a", "https://x.example/b"]
    )  # a retry is due later
    assert not store.all_settled(
        ["https://x.example/a", "https://x.example/new"]
    )  # never processed
    for _ in range(MAX_ATTEMPTS):
        store.save_seen("https://x.example/b", "news", "failed")
    assert store.all_settled(["https://x.example/a", "https://x.example/b"])  # given up
