"""The search index (m012_fts): the pairs of every run of letters and digits, runs apart."""

from __future__ import annotations

import random
from pathlib import Path

from click.testing import CliRunner
from sqlite_utils import Database

from bench.textgen import TextGenerator
from crawler.cli import cli
from crawler.model import Article
from crawler.schema import MIGRATIONS
from crawler.search import (
    SEARCH_TABLE,
    _like,
    pair_text,
    search_articles,
    term_query,
)
from crawler.store import Store, open_readonly

MARK = ("[", "]")


def save(store: Store, url: str, title: str, text: str) -> int:
    with store.transaction():
        return store.save_article(
            Article(url, title, text), source="s", title_key=url, fingerprint=None, topics={}
        )


def test_pair_text_pairs_each_run_of_letters_and_digits_runs_apart() -> None:
    assert pair_text("微信支付，OpenAI 与 5G") == "微信 信支 支付 0 Op pe en nA AI 0 5G"
    assert pair_text("a 中 _x_") == ""  # runs of one character hold no pair
    assert pair_text(None) == ""
    assert term_query("微信支付") == '"微信 信支 支付"'
    assert term_query("Wi-Fi") == '"Wi" AND "Fi"'  # candidates, checked with LIKE
    assert term_query("中") == ""


def test_a_longer_term_is_never_found_across_two_runs(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    # 支付宝 and 宝贝 hold the pairs of 支付贝... but only across the comma.
    save(store, "https://a.example/1", "标题", "支付宝，宝贝计划。")
    save(store, "https://a.example/2", "标题", "支付宝贝计划。")
    store.close()
    with open_readonly(tmp_path / "f.db") as db:
        assert [h.url[-1] for h in search_articles(db, "付宝贝").hits] == ["2"]
        assert {h.url[-1] for h in search_articles(db, "宝贝").hits} == {"1", "2"}
        wifi = search_articles(db, "付宝-宝贝")
    assert wifi.method == "match" and wifi.hits == []  # candidates both; LIKE keeps none


def test_a_two_character_term_is_found_through_the_index_title_hits_first(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    save(store, "https://a.example/1", "苹果发布会", "阿里与腾讯都没有出现。")
    save(store, "https://a.example/2", "阿里云降价", "阿里云今天宣布降价。")
    save(store, "https://a.example/3", "电商观察", "阿里、阿里、阿里：一篇文章三次提到它。")
    save(store, "https://a.example/4", "腾讯财报", "与那家公司无关。")
    save(store, "https://a.example/5", "模型", "OpenAI 发布新模型。")
    store.close()
    with open_readonly(tmp_path / "f.db") as db:
        result = search_articles(db, "阿里")
        ai = search_articles(db, "ai")
    assert result.method == "match" and result.note == ""
    # The title hit first, then by bm25: three mentions before one, as documented.
    assert [h.url[-1] for h in result.hits] == ["2", "3", "1"]
    assert [h.in_title for h in result.hits] == [True, False, False]
    assert result.hits[0].title == "[阿里]云降价" and "[阿里]" in result.hits[1].snippet
    assert ai.method == "match" and [h.url[-1] for h in ai.hits] == ["5"]  # inside OpenAI


def test_updates_and_deletes_keep_the_index_right(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    article = save(store, "https://a.example/1", "旧标题", "这里说的是微信。")
    store.db.execute("UPDATE articles SET text = '这里说的是支付宝。' WHERE id = ?", [article])
    assert [h.url for h in search_articles(store.db, "微信").hits] == []
    assert len(search_articles(store.db, "支付").hits) == 1
    store.db.execute("DELETE FROM articles WHERE id = ?", [article])
    assert search_articles(store.db, "支付").hits == []
    store.close()


def test_the_migration_indexes_the_articles_already_stored(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Database(path) as db:
        MIGRATIONS.apply(db, stop_before="m010_search")  # passes through m010 and m012
        db.execute(
            "INSERT INTO articles (url, source, title, fetched_at, text, title_key) "
            "VALUES ('https://a.example/1', 'a', '旧文章', '2026-01-01T00:00:00Z', "
            "'腾讯早年的故事', 'k')"
        )
    with open_readonly(path) as db:
        assert search_articles(db, "腾讯").method == "like"  # no index yet: a scan
    Store.open(path).close()  # what the next crawl (or any command that writes) does first
    with open_readonly(path) as db:
        result = search_articles(db, "腾讯")
        assert db.execute(f"SELECT count(*) FROM {SEARCH_TABLE}").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM search_queue").fetchone()[0] == 0
    assert result.method == "match" and [h.url for h in result.hits] == ["https://a.example/1"]


def test_the_index_finds_what_a_scan_finds_on_a_generated_corpus(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    generate = TextGenerator(random.Random(7))
    with store.transaction():
        for i in range(300):
            story = generate.article(on_topic=i % 3 == 0, min_chars=80, max_chars=400)
            store.save_article(
                Article(f"https://a.example/{i}", generate.headline(), story.text),
                source="s",
                title_key=str(i),
                fingerprint=None,
                topics={},
            )
    texts = [row["text"] for row in store.db.query("SELECT text FROM articles")]
    rng = random.Random(3)
    terms = {t for t in (text[i : i + 2] for text in texts for i in (0, 5, 17)) if t.isalnum()}
    for term in [*sorted(terms)[:40], "微信", "AI"]:
        ours = search_articles(store.db, term, limit=1000)
        scan = _like(store.db, [term], topic=None, limit=1000, mark=MARK)
        assert ours.method == "match"
        assert {h.url for h in ours.hits} == {h.url for h in scan}, term
        assert sorted(h.in_title for h in ours.hits) == sorted(h.in_title for h in scan), term
    pair = f"{rng.choice(sorted(terms))} {rng.choice(sorted(terms))}"
    both = search_articles(store.db, pair, limit=1000)
    scan_both = _like(store.db, pair.split(), topic=None, limit=1000, mark=MARK)
    assert {h.url for h in both.hits} == {h.url for h in scan_both}
    store.close()


def test_any_writer_keeps_its_articles_searchable(tmp_path: Path) -> None:
    Store.open(tmp_path / "f.db").close()
    db = Database(tmp_path / "f.db")  # another program: no function of ours registered
    db.execute(
        "INSERT INTO articles (url, source, title, fetched_at, text, title_key) "
        "VALUES ('https://a.example/1', 'a', '标题', '2026-01-01T00:00:00Z', '京东', 'k')"
    )
    db.conn.commit()
    assert db.execute("SELECT article_id FROM search_queue").fetchall() == [(1,)]
    assert [h.url for h in search_articles(db, "京东").hits] == ["https://a.example/1"]
    Store.open(tmp_path / "f.db").close()  # the next writer indexes it
    assert db.execute("SELECT count(*) FROM search_queue").fetchone()[0] == 0
    assert [h.url for h in search_articles(db, "京东").hits] == ["https://a.example/1"]


def readme_block(command: str) -> str:
    """The indented output block that follows `$ command` in README.md."""
    lines = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index(f"    $ {command}") + 1
    block = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip("\n")


def test_the_readme_two_character_example_is_what_search_prints(crawled: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "阿里", "--limit", "2", "--db", str(crawled)])
    assert result.exit_code == 0, result.output
    assert result.output.strip("\n") == readme_block("followup search 阿里 --limit 2")
