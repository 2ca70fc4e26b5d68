"""Deciding an article's fate: related or not, new or a sighting, and which copy is the original."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from crawler.config import Topic
from crawler.ingest import ingest_article
from crawler.model import Article
from crawler.query import parse_query
from crawler.store import Store
from tests.neardup.corpus import load_articles

TOPICS = (Topic("interop", "互联互通", parse_query("(淘宝 OR 阿里) AND (微信 OR 腾讯)")),)
EARLY = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
LATE = datetime(2026, 11, 16, 3, 0, tzinfo=UTC)


def story(n: int = 0) -> Article:
    text = load_articles()[n].body
    return Article(f"https://a.example/{n}", f"标题{n}", text, "作者", LATE)


def repost(article: Article, url: str, *, published: datetime | None) -> Article:
    lines = article.text.splitlines()
    edited = [lines[0].replace("，", "、", 2), *lines[1:-1]]  # reworded and trimmed
    return replace(
        article,
        url=url,
        title=article.title + "（转）",
        text="\n".join(edited),
        published=published,
    )


def test_related_new_articles_are_stored_and_unrelated_remembered() -> None:
    store = Store.memory()
    stored = ingest_article(store, story(), source="a", topics=TOPICS)
    assert stored.status == "stored" and stored.topics == ("interop",)
    unrelated = Article("https://a.example/x", "固态电池", "电池" * 200)
    assert ingest_article(store, unrelated, source="a", topics=TOPICS).status == "irrelevant"
    assert store.get_seen(["https://a.example/x"])["https://a.example/x"]["status"] == "irrelevant"
    assert ingest_article(store, story(), source="b", topics=TOPICS).status == "known"
    assert store.db["articles"].count == 1


def test_a_later_repost_is_a_sighting_of_the_stored_article() -> None:
    store = Store.memory()
    original = ingest_article(store, story(), source="a", topics=TOPICS)
    copy = ingest_article(
        store, repost(story(), "https://b.example/1", published=LATE), source="b", topics=TOPICS
    )
    assert copy.status == "duplicate" and copy.article_id == original.article_id
    (row,) = store.db.query("SELECT * FROM duplicates")
    assert (row["url"], row["source"], row["duplicate_of"]) == (
        "https://b.example/1",
        "b",
        original.article_id,
    )
    assert 0 < row["distance"] <= 10


def test_an_earlier_copy_crawled_later_becomes_the_original() -> None:
    store = Store.memory()
    first_seen = ingest_article(store, story(), source="a", topics=TOPICS)
    ingest_article(
        store, repost(story(), "https://c.example/1", published=LATE), source="c", topics=TOPICS
    )
    earlier = repost(story(), "https://b.example/1", published=EARLY)
    outcome = ingest_article(store, earlier, source="b", topics=TOPICS)

    assert outcome.status == "earlier" and outcome.article_id == first_seen.article_id
    (article,) = store.db.query("SELECT * FROM articles")
    assert (article["id"], article["url"], article["source"]) == (
        first_seen.article_id,
        "https://b.example/1",
        "b",
    )
    assert article["published_at"] == "2026-11-16T01:00:00Z"
    sightings = {d["url"]: d["duplicate_of"] for d in store.db.query("SELECT * FROM duplicates")}
    assert sightings == {"https://a.example/0": article["id"], "https://c.example/1": article["id"]}
    statuses = store.get_seen(["https://a.example/0", "https://b.example/1"])
    assert statuses["https://a.example/0"]["status"] == "duplicate"
    assert statuses["https://b.example/1"]["status"] == "stored"


def test_a_copy_without_a_date_or_of_baseline_coverage_never_takes_the_place() -> None:
    store = Store.memory()
    baseline = ingest_article(
        store, story(), source="seeds", topics=TOPICS, baseline_topic="interop"
    )
    assert baseline.status == "baseline"
    early = ingest_article(
        store, repost(story(), "https://b.example/1", published=EARLY), source="b", topics=TOPICS
    )
    assert early.status == "duplicate"
    undated = ingest_article(store, story(1), source="a", topics=TOPICS)
    assert (
        ingest_article(
            store,
            repost(story(1), "https://b.example/2", published=None),
            source="b",
            topics=TOPICS,
        ).status
        == "duplicate"
    )
    assert undated.status == "stored"


def test_known_coverage_met_after_its_repost_still_makes_the_story_known() -> None:
    # Whichever copy a crawl meets first: a topic seed crawled after a repost of it was stored
    # marks the story's row as baseline, filed under the seed's topic, as if met first.
    other = (Topic("other", "其他", parse_query("阿里")),)
    for published, status in ((EARLY, "earlier"), (LATE, "duplicate")):
        store = Store.memory()
        first = ingest_article(
            store, repost(story(), "https://b.example/1", published=LATE), source="b", topics=other
        )
        assert first.status == "stored"
        seed = replace(story(), published=published)
        outcome = ingest_article(
            store, seed, source="seeds", topics=TOPICS, baseline_topic="interop"
        )
        assert (outcome.status, outcome.article_id) == (status, first.article_id)
        (article,) = store.db.query("SELECT id, url, baseline FROM articles")
        assert article["baseline"] == 1
        expected_url = seed.url if status == "earlier" else "https://b.example/1"
        assert article["url"] == expected_url
        topics = [r["topic"] for r in store.db.query("SELECT topic FROM article_topics")]
        assert sorted(topics) == ["interop", "other"]


def test_newsflashes_match_by_title() -> None:
    store = Store.memory()
    flash = Article("https://a.example/f", "淘宝接入微信支付", "淘宝宣布接入微信支付。")
    assert ingest_article(store, flash, source="a", topics=TOPICS).status == "stored"
    same = replace(flash, url="https://b.example/f", text="据报道，淘宝已接入微信支付。")
    assert ingest_article(store, same, source="b", topics=TOPICS).status == "duplicate"
