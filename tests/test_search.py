"""`followup search`: the pair index (m012_fts) for terms of two characters or more, LIKE for
shorter ones, title hits first."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

import crawler.search
from crawler.cli import cli
from crawler.model import Article
from crawler.schema import MIGRATIONS
from crawler.search import (
    BIGRAM_SCHEMA,
    SearchResult,
    mark_terms,
    register_search_functions,
    search_articles,
    snippet_around,
)
from crawler.store import Store, open_readonly
from tests.helpers import run_followup

PAY = "https://news.example.com/2026/11/20/pay.html"
BROKERS = "https://daily.example.org/a/1001.html"
SEED = "https://list.example.net/news/1999.html"
CLOUD = "https://news.example.com/2026/11/20/cloud.html"


def search(db_path: Path, text: str, **options: object) -> SearchResult:
    with open_readonly(db_path) as db:
        return search_articles(db, text, **options)  # type: ignore[arg-type]


def containing(db_path: Path, *terms: str) -> set[str]:
    """URLs whose title or text holds every term, by a plain Python scan."""
    rows = Database(db_path).query("SELECT url, title, text FROM articles")
    return {r["url"] for r in rows if all(t in r["title"] + r["text"] for t in terms)}


def in_title(db_path: Path, term: str) -> set[str]:
    rows = Database(db_path).query("SELECT url, title FROM articles")
    return {r["url"] for r in rows if term in r["title"]}


def test_the_index_is_one_contentless_fts5_table_fed_from_a_queue(crawled: Path) -> None:
    db = Database(crawled)
    schema = db.table("articles_search").schema
    assert "USING fts5" in schema and "content=''" in schema and "detail=full" in schema
    assert {"articles_fts", "articles_bigrams"}.isdisjoint(db.table_names())  # m012_fts drops them
    assert {t.name for t in db.table("articles").triggers} == {
        # Not the index's: the per-day counts of `followup serve` (store.py, m009_serve).
        "article_days_ai",
        "article_days_ad",
        "article_days_au",
        # The search queue's: plain SQL, no function of ours (crawler.search, m012_fts).
        "search_queue_ai",
        "search_queue_ad",
        "search_queue_au",
    }
    # The crawl closed its store: every article it stored is indexed, none left queued.
    assert db.execute("SELECT count(*) FROM search_queue").fetchone()[0] == 0
    indexed = db.execute("SELECT count(*) FROM articles_search").fetchone()[0]
    assert indexed == db["articles"].count > 0


def test_a_phrase_is_found_by_match_title_hits_first(crawled: Path) -> None:
    result = search(crawled, "微信支付")
    assert result.method == "match" and result.note == ""
    found = [hit.url for hit in result.hits]
    assert set(found) == containing(crawled, "微信支付") and len(found) == 4
    titled = in_title(crawled, "微信支付")
    assert titled == {PAY, BROKERS}
    assert set(found[: len(titled)]) == titled  # every title hit before any text-only hit
    assert [hit.in_title for hit in result.hits] == [True, True, False, False]
    assert all("[微信支付]" in hit.snippet for hit in result.hits)
    assert "[微信支付]" in result.hits[0].title


def test_a_two_character_term_is_found_by_bigrams_title_hits_first(crawled: Path) -> None:
    result = search(crawled, "阿里")
    assert result.method == "match"
    found = [hit.url for hit in result.hits]
    assert set(found) == containing(crawled, "阿里") and len(found) >= 4
    titled = in_title(crawled, "阿里")
    assert titled == {PAY, SEED, CLOUD}
    assert set(found[: len(titled)]) == titled
    assert all("[阿里]" in hit.snippet for hit in result.hits)
    assert result.hits[0].title.count("[阿里]") == 1


def test_every_term_must_occur_and_topic_and_limit_narrow(crawled: Path) -> None:
    both = search(crawled, "阿里妈妈 腾讯广告")
    assert both.method == "match"
    assert {h.url for h in both.hits} == containing(crawled, "阿里妈妈", "腾讯广告")
    assert both.hits[0].url == SEED  # both terms in its title
    mixed = search(crawled, "微信支付 券商")  # a two-character term: the bigram index for all
    assert mixed.method == "match" and [h.url for h in mixed.hits] == [BROKERS]
    assert [h.url for h in search(crawled, "微信支付", topic="brokers").hits] == [BROKERS]
    assert len(search(crawled, "微信支付", limit=1).hits) == 1


def test_user_input_is_never_sql_or_fts_syntax(crawled: Path) -> None:
    hostile = [
        '"微信',
        '"微信支付" OR "阿里巴巴"',
        "NEAR(微信支付 阿里巴巴)",
        "'; DROP TABLE articles; --",
    ]
    for text in hostile:
        assert search(crawled, text).hits == []
    # % and _ are literal characters, not LIKE wildcards: one article prints a percent sign.
    percent = containing(crawled, "%")
    assert len(percent) == 1 and {h.url for h in search(crawled, "%").hits} == percent
    assert search(crawled, "_").hits == []
    with pytest.raises(ValueError, match="nothing to search for"):
        search(crawled, "  ")


def test_the_index_follows_inserts_updates_and_deletes(crawled_copy: Path) -> None:
    store = Store.open(crawled_copy)
    with store.transaction():
        new_id = store.save_article(
            Article("https://news.example.com/new", "小程序互跳试点", "支付宝小程序与微信互跳。"),
            source="news",
            title_key="小程序互跳试点",
            fingerprint=None,
            topics={"interop": ["支付宝"]},
        )
    assert [h.url for h in search(crawled_copy, "小程序互跳").hits] == [
        "https://news.example.com/new"
    ]
    store.db.execute("UPDATE articles SET title = '跨平台支付试点' WHERE id = ?", [new_id])
    assert [h.title for h in search(crawled_copy, "跨平台支付").hits] == ["[跨平台支付]试点"]
    assert search(crawled_copy, "小程序互跳试点").hits == []
    store.db.execute("DELETE FROM article_topics WHERE article_id = ?", [new_id])
    store.db.execute("DELETE FROM articles WHERE id = ?", [new_id])
    assert search(crawled_copy, "跨平台支付").hits == []
    store.close()


def test_a_store_that_ran_the_old_indexes_has_them_dropped_and_its_articles_indexed(
    tmp_path: Path,
) -> None:
    # What m002_search_index and m010_search once built (they build nothing now on a store that
    # has not run them): m012_fts must drop those indexes and triggers and index every article.
    path = tmp_path / "old.db"
    with Database(path) as db:
        MIGRATIONS.apply(db, stop_before="m011_nodes")
        db["articles"].enable_fts(["title", "text"], tokenize="trigram", create_triggers=True)
        register_search_functions(db)
        for statement in BIGRAM_SCHEMA:
            db.execute(statement)
        db.execute(
            "INSERT INTO articles (url, source, title, fetched_at, text, title_key) "
            "VALUES ('https://a.example/1', 'a', '旧文章', '2026-01-01T00:00:00Z', "
            "'腾讯早年的故事', 'k')"
        )
        assert db.execute("SELECT count(*) FROM articles_bigrams").fetchone()[0] == 1
    Store.open(path).close()
    db = Database(path)
    assert {"articles_fts", "articles_bigrams"}.isdisjoint(db.table_names())
    assert not [t.name for t in db["articles"].triggers if "fts" in t.name or "bigram" in t.name]
    result = search(path, "腾讯")
    assert result.method == "match" and [h.url for h in result.hits] == ["https://a.example/1"]


def test_an_older_database_is_searched_by_like_until_a_crawl_migrates_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Database(path) as db:
        MIGRATIONS.apply(db, stop_before="m002_search_index")
        db.execute(
            "INSERT INTO articles (url, source, title, fetched_at, text, title_key) "
            "VALUES ('https://a.example/1', 'a', '旧文章', '2026-01-01T00:00:00Z', "
            "'微信支付早年的故事', '旧文章')"
        )
    before = search(path, "微信支付")
    assert before.method == "like" and "no full-text index yet" in before.note
    assert [h.url for h in before.hits] == ["https://a.example/1"]

    Store.open(path).close()  # what the next crawl does first
    after = search(path, "微信支付")
    assert after.method == "match" and [h.url for h in after.hits] == ["https://a.example/1"]


def test_without_trigram_there_is_no_index_and_search_uses_like(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(crawler.search, "fts5_available", lambda db, **_: False)
    with caplog.at_level(logging.WARNING, logger="crawler.search"):
        store = Store.open(tmp_path / "f.db")
    assert "no FTS5: search will use LIKE" in caplog.text
    assert "articles_search" not in store.db.table_names()
    with store.transaction():
        store.save_article(
            Article("https://a.example/1", "微信支付", "淘宝接入微信支付。"),
            source="a",
            title_key="微信支付",
            fingerprint=None,
            topics={"t": []},
        )
    store.close()
    result = search(tmp_path / "f.db", "微信支付")
    assert result.method == "like" and result.note
    assert [h.title for h in result.hits] == ["[微信支付]"]


def test_the_installed_command_prints_ranked_highlighted_hits(crawled: Path) -> None:
    result = run_followup("search", "微信支付", "--db", str(crawled), "--limit", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("1. ") and "[微信支付]" in lines[0]
    assert lines[1].endswith(PAY) or lines[1].endswith(BROKERS)
    assert "[微信支付]" in lines[2]
    assert lines[4].startswith("2. ") and "3. " not in result.stdout
    assert result.stderr == ""


def test_the_command_explains_no_hits_and_bad_input(crawled: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "没有这个词语", "--db", str(crawled)])
    assert result.exit_code == 0 and "no article matches '没有这个词语'" in result.stderr
    result = runner.invoke(cli, ["search", "阿里", "--db", str(crawled), "--topic", "nope"])
    assert result.exit_code == 2 and "topics there: brokers, interop" in result.output
    result = runner.invoke(cli, ["search", " ", "--db", str(crawled)])
    assert result.exit_code == 2 and "nothing to search for" in result.output


def test_snippets_and_marks() -> None:
    text = "开头" + "无关内容" * 20 + "淘宝接入微信支付" + "后面" * 30
    snippet = snippet_around(text, ["微信支付"], width=20)
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "[微信支付]" in snippet
    assert snippet_around("标题里才有", ["微信"]) == "标题里才有"
    assert mark_terms("Alibaba and ALIBABA", ["alibaba"]) == "[Alibaba] and [ALIBABA]"
    assert (
        mark_terms("阿里巴巴与阿里", ["阿里", "阿里巴巴"]) == "[阿里巴巴]与[阿里]"
    )  # never nested
