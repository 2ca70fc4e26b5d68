"""What becomes of an extracted article: stored, a duplicate of a stored one, or unrelated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from crawler.changes import Validators, content_hash
from crawler.config import Topic
from crawler.dates import plausible, utcnow
from crawler.fingerprint import MIN_FINGERPRINT_CHARS, title_key
from crawler.model import Article
from crawler.neardup import Original, decide
from crawler.notify.outbox import save_article_rows
from crawler.notify.targets import Target
from crawler.seen import FINAL_STATUSES
from crawler.sketch import Sketch, fingerprint_with_sketch
from crawler.store import Store
from crawler.text import compact, normalize, one_line, split_original_title, strip_controls

# What a decoder puts where bytes were invalid: text holding it may have lost the very words a
# topic matches, so it never gets a final "irrelevant".
REPLACEMENT_CHAR = "\ufffd"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision for one article and the row it produced."""

    status: Literal[
        "stored", "baseline", "duplicate", "earlier", "irrelevant", "undecodable", "known"
    ]
    article_id: int | None = None
    original: Original | None = None
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Features:
    """What matching and deduplication read of an article, each derived once (NFKC of a long
    text costs more than the rest of its processing)."""

    haystack: str  # title and text, normalised: what topic queries match
    body: str  # the text, normalised, without a `原标题：…` line: what fingerprints read
    original_title_key: str = ""  # title_key of the title a `原标题：…` line names

    @classmethod
    def of(cls, article: Article) -> Features:
        text = normalize(article.text)
        original_title, body = split_original_title(text)
        return cls(
            f"{normalize(article.title)}\n{text}",
            body,
            title_key(original_title) if original_title else "",
        )

    @property
    def compact(self) -> str:
        """The body's word characters, what the fingerprint hashes (only related articles
        get one, so it is not derived for the rest)."""
        return compact(self.body, normalized=True)


@dataclass(frozen=True, slots=True)
class Signature:
    """What near-duplicate lookups compare: the simhash and sketch of a text long enough to have
    them (None for a newsflash), and its normalised titles."""

    fingerprint: int | None
    sketch: Sketch | None
    title_key: str
    original_title_key: str

    @classmethod
    def of(cls, article: Article, features: Features) -> Signature:
        value, sketch = signature_of(features)
        return cls(value, sketch, title_key(article.title), features.original_title_key)


def clean_article(article: Article, *, now: datetime) -> Article:
    """What may be stored of an article: no control characters (they break Atom, terminals),
    titles on one line, an impossible publication time (year 9999, year 1) as unknown."""
    return replace(
        article,
        title=one_line(article.title),
        author=one_line(article.author),
        text=strip_controls(article.text),
        published=plausible(article.published, now=now),
    )


def match_topics(features: Features, topics: Sequence[Topic]) -> dict[str, list[str]]:
    """Topic id → matched terms, for every topic the article's title and text match."""
    matches = {}
    for topic in topics:
        terms = topic.query.match(features.haystack)
        if terms is not None:
            matches[topic.id] = terms
    return matches


def signature_of(features: Features) -> tuple[int | None, Sketch | None]:
    """The article's fingerprint and sketch, or Nones for a text too short for them to mean
    anything."""
    chars = features.compact
    if len(chars) < MIN_FINGERPRINT_CHARS:
        return None, None
    return fingerprint_with_sketch(chars)


def ingest_article(
    store: Store,
    article: Article,
    *,
    source: str,
    topics: Sequence[Topic],
    baseline_topic: str | None = None,
    notify: Sequence[Target] = (),
) -> Outcome:
    """Match, deduplicate and store one article, all writes in one transaction.

    A baseline article (a topic's known coverage) is stored under its topic whatever it
    matches, so that later reposts of it are recognised as duplicates. A copy published
    before the stored one it duplicates takes its place ("earlier"): the original of a story
    is its first publication, whichever copy the crawl met first. A new, non-baseline
    article owes each interested `notify` target a message, in the same transaction.
    """
    article = clean_article(article, now=utcnow())
    features = Features.of(article)
    matches = match_topics(features, topics)
    if baseline_topic is not None:
        matches.setdefault(baseline_topic, [])
    if not matches and REPLACEMENT_CHAR in features.haystack:
        detail = "text did not decode (invalid bytes); retried later"
        store.save_seen(article.url, source, "failed", detail=detail)
        return Outcome("undecodable")
    if not matches:
        store.save_seen_later(article.url, source, "irrelevant")
        return Outcome("irrelevant")
    signature = Signature.of(article, features)  # CPU work outside the write lock
    with store.transaction():
        seen = store.get_seen([article.url]).get(article.url)
        if seen is not None and seen["status"] in FINAL_STATUSES:
            return Outcome("known")
        return _record(
            store,
            article,
            source,
            signature,
            matches,
            baseline_topic=baseline_topic,
            notify=notify,
        )


def _record(
    store: Store,
    article: Article,
    source: str,
    signature: Signature,
    matches: dict[str, list[str]],
    *,
    baseline_topic: str | None,
    notify: Sequence[Target] = (),
) -> Outcome:
    """Store a related article as new, as a sighting, or as the earlier original.

    A topic's known coverage makes its story known (baseline) whichever copy the crawl met
    first: met after a repost of it was stored, it still marks the story's row.
    """
    baseline = baseline_topic is not None
    value, sketch = signature.fingerprint, signature.sketch
    key, original_key = signature.title_key, signature.original_title_key
    original = store.find_original(value, key, sketch=sketch, original_title_key=original_key)
    decision = decide(original, article)
    if original is None:
        article_id = store.save_article(
            article,
            source=source,
            title_key=key,
            fingerprint=value,
            topics=matches,
            baseline=baseline,
            sketch=sketch,
            original_title_key=original_key,
        )
        if not baseline:
            save_article_rows(store.db, article_id, list(matches), notify, now=utcnow())
        return Outcome("baseline" if baseline else "stored", article_id, topics=tuple(matches))
    if decision == "earlier":
        store.save_earlier_original(
            article,
            source=source,
            original=original,
            title_key=key,
            fingerprint=value,
            topics=matches,
            sketch=sketch,
            original_title_key=original_key,
        )
    else:
        store.save_duplicate(
            article, source=source, original=original, fingerprint=value, sketch=sketch
        )
    if baseline_topic is not None:
        store.mark_baseline(original.article_id, baseline_topic, matches[baseline_topic])
    status: Literal["earlier", "duplicate"] = "earlier" if decision == "earlier" else "duplicate"
    return Outcome(status, original.article_id, original, tuple(matches))


def revise_article(
    store: Store,
    article: Article,
    *,
    source: str,
    topics: Sequence[Topic],
    validators: Validators | None = None,
) -> Literal["revised", "unchanged", "unknown"]:
    """Record a new version of a stored article of `source`, if its words changed.

    The earlier version goes to article_versions and the article row takes the new one, in
    one transaction with the page's validators. Topics the new version matches are updated;
    an article is never dropped from a topic because an edit removed a word.
    """
    article = clean_article(article, now=utcnow())
    features = Features.of(article)
    (value, sketch), matches = signature_of(features), match_topics(features, topics)
    with store.transaction():
        current = store.get_article(article.url)
        if current is None or current["source"] != source:
            return "unknown"
        if validators is not None:
            store.save_validators(article.url, validators)
        if content_hash(current["title"], current["text"]) == content_hash(
            article.title, article.text
        ):
            return "unchanged"
        store.save_revision(
            current,
            article,
            title_key=title_key(article.title),
            fingerprint=value,
            topics=matches,
            sketch=sketch,
        )
    return "revised"


def recheck_article(
    store: Store,
    article: Article,
    *,
    source: str,
    topics: Sequence[Topic],
    validators: Validators,
) -> Literal["revised", "unchanged", "unknown"]:
    """A re-checked page of a stored article: a revision when its extraction differs from
    what its last fetch gave; else (or with nothing to compare) only its validators are kept."""
    known = store.get_validators([article.url]).get(article.url)
    if known is None or known.content_hash in (None, validators.content_hash):
        store.save_validators(article.url, validators)
        return "unchanged"
    return revise_article(store, article, source=source, topics=topics, validators=validators)
