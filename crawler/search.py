"""Full-text search over stored articles: one FTS5 index of character pairs, filled in batches.

The index, `articles_search`, holds every run of letters and digits of an article's title and text
written as its overlapping pairs (微信支付 → "微信 信支 支付"), runs apart by a separator token
(`0`, a one-character token no query ever asks for), tokenized by the default unicode61
tokenizer. A term is looked up as the phrase of its pairs: consecutive pairs of one run, which
is exactly the term inside a run (the separator keeps two runs from joining into a false
phrase). So two-character terms (阿里, 腾讯, AI — the most common Chinese queries) and longer
ones use the same index, which keeps positions (`detail=full`: phrases need them) and no copy of
the text (contentless): 36 % smaller than the trigram index it replaced (m012_fts), which alone
was larger than this one with its two-character companion.

Nothing writes the index in an article's transaction. A trigger queues the article's id in
`search_queue` (its old title and text too when an indexed row changes or goes, which a
contentless index needs to take them out), and `index_pending` indexes what is queued, many
articles per transaction: a crawl every SEARCH_BATCH stored articles and at its end, every writer
when it opens the store. A process killed in between leaves the rows queued, never unsearchable;
and `search_articles` checks queued articles with LIKE, so a reader finds them before they are
indexed. The triggers are plain SQL: any program may write `articles`.

A term with punctuation inside (Wi-Fi) takes candidates from its runs and is checked with LIKE;
one with no run of two characters (中, %) and a store without the index (a SQLite without
FTS5, or a file no crawl has migrated yet) are searched by LIKE on the base table, and a missing
index says so.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sqlite_utils import Database

from crawler.dates import beijing_time
from crawler.text import one_line

logger = logging.getLogger(__name__)

SEARCH_TABLE = "articles_search"
QUEUE_TABLE = "search_queue"
MATCH_FUNCTION = "followup_match"
SEPARATOR = "0"  # between the pairs of two runs: a one-character token, never in a query
# A query for text with nothing the index holds: the separator twice in a row never occurs.
NOTHING = f'"{SEPARATOR} {SEPARATOR}"'
_SEPARATOR, _SPACE = ord(SEPARATOR), ord(" ")
# Queued articles indexed per transaction (crawler.store also indexes a crawl's articles every
# SEARCH_BATCH stored): FTS5 writes one segment per transaction, so fewer, larger ones.
SEARCH_BATCH = 200
BACKLOG = 10_000  # queued articles worth a log line before they are indexed
# A term in more articles than this is listed newest first, not by bm25, which would score every
# match (a common two-character term is in a fifth of a large store: seconds at 1M articles).
RANKED_MATCHES = 10_000
# What unicode61 keeps in a token: letters and digits (underscore is punctuation to it).
TOKEN_RUN_RE = re.compile(r"[^\W_]+")
TITLE_WEIGHT = 10.0  # bm25 weight of the title against 1.0 for the text
SNIPPET_CHARS = 36
MARK = ("[", "]")
OPERATOR_WORDS = frozenset({"OR", "AND", "NOT"})


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A matching article; `title` and `snippet` carry the match between the marks."""

    url: str
    source: str
    title: str
    snippet: str
    published_at: str | None
    fetched_at: str
    baseline: bool
    in_title: bool


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The hits, best first, and how they were found."""

    hits: list[SearchHit]
    method: Literal["match", "like", "trigram"]
    note: str = ""  # why the index could not be used, when it could not


# The index --------------------------------------------------------------------------------


def pair_text(text: str | None) -> str:
    """What the index holds of a title or text: each run's overlapping pairs, runs apart.

    On code points with numpy: a string per pair made in Python costs six times as much, the
    largest part of indexing an article (and of indexing a whole store after m012_fts).
    """
    runs = [run for run in TOKEN_RUN_RE.findall(text or "") if len(run) > 1]
    if not runs:
        return ""
    # The runs' code points, NUL between two runs: a pair is a code point and the next, no NUL.
    points = np.frombuffer("\0".join(runs).encode("utf-32-le"), dtype=np.uint32)
    first, second = points[:-1], points[1:]
    rows = np.stack([first, second, np.full_like(first, _SPACE)], axis=1)
    rows[second == 0] = (_SEPARATOR, _SPACE, 0)  # the last pair of a run: the separator next
    kept = rows[first != 0]  # not the rows that start at a NUL
    return kept[kept != 0].tobytes().decode("utf-32-le")[:-1]


def _pairs(run: str) -> str:
    return " ".join(run[i : i + 2] for i in range(len(run) - 1))


def term_query(term: str) -> str:
    """An FTS5 query finding term: the phrase of each of its runs ('' when none has two characters).

    Exact for a term that is one run; a term with punctuation inside gets candidates only.
    """
    phrases = [f'"{pairs}"' for pairs in map(_pairs, TOKEN_RUN_RE.findall(term)) if pairs]
    return " AND ".join(phrases)


def exact_term(term: str) -> bool:
    """True when the index alone answers term: two or more letters and digits, nothing else."""
    return len(term) >= 2 and TOKEN_RUN_RE.fullmatch(term) is not None


def match_query(text: str) -> str:
    """The FTS5 query for whitespace-separated terms, all of which must occur ('' when a term
    has nothing the index holds): `followup_match()` in SQL."""
    queries = [term_query(term) for term in parse_terms(text)]
    if not queries or not all(queries):
        return ""
    return " AND ".join(f"({query})" for query in queries)


def box_query(text: str) -> str:
    """match_query for a search box that must send some query: NOTHING finds nothing."""
    return match_query(text) or NOTHING


def register_search_functions(db: Database) -> None:
    """Give this connection followup_match() for SQL that searches (and, for m010_search on an
    older store, followup_bigrams())."""
    register_match_function(db.conn)
    db.conn.create_function(BIGRAM_FUNCTION, 1, bigram_text, deterministic=True)


def register_match_function(conn: sqlite3.Connection) -> None:
    """followup_match(text): the query finding text in articles_search (crawler/web too)."""
    conn.create_function(MATCH_FUNCTION, 1, match_query, deterministic=True)


def fts5_available(db: Database) -> bool:
    """True when this SQLite has FTS5."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp.followup_probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    db.execute("DROP TABLE temp.followup_probe")
    return True


# Written in an article's own transaction: its id (and, for a changed or deleted row, what the
# index may hold of it). Plain SQL, so writers need no function of ours.
QUEUE_SCHEMA = (
    f"""CREATE TABLE {QUEUE_TABLE} (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL,
        old_title TEXT,
        old_text TEXT
    )""",
    f"CREATE INDEX {QUEUE_TABLE}_article_id ON {QUEUE_TABLE}(article_id)",
    f"""CREATE TRIGGER {QUEUE_TABLE}_ai AFTER INSERT ON articles BEGIN
        INSERT INTO {QUEUE_TABLE} (article_id) VALUES (new.id);
    END""",
    f"""CREATE TRIGGER {QUEUE_TABLE}_au AFTER UPDATE OF id, title, text ON articles BEGIN
        INSERT INTO {QUEUE_TABLE} (article_id, old_title, old_text)
        VALUES (old.id, old.title, old.text);
        INSERT INTO {QUEUE_TABLE} (article_id) SELECT new.id WHERE new.id != old.id;
    END""",
    f"""CREATE TRIGGER {QUEUE_TABLE}_ad AFTER DELETE ON articles BEGIN
        INSERT INTO {QUEUE_TABLE} (article_id, old_title, old_text)
        VALUES (old.id, old.title, old.text);
    END""",
    f"""CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(title, text, content='', detail=full,
        tokenize='unicode61 remove_diacritics 0')""",
    # Every stored article waits for its first indexing (the next writer to open the store).
    f"INSERT INTO {QUEUE_TABLE} (article_id) SELECT id FROM articles ORDER BY id",
)
REPLACED = (
    "TRIGGER IF EXISTS articles_ai",
    "TRIGGER IF EXISTS articles_ad",
    "TRIGGER IF EXISTS articles_au",
    "TRIGGER IF EXISTS articles_bigrams_ai",
    "TRIGGER IF EXISTS articles_bigrams_ad",
    "TRIGGER IF EXISTS articles_bigrams_au",
    "TABLE IF EXISTS articles_fts",
    "TABLE IF EXISTS articles_bigrams",
)


def replace_search_indexes(db: Database) -> bool:
    """m012_fts: drop the trigram and bigram indexes and their triggers, create the queue and
    articles_search with every article queued; False (LIKE search) without FTS5."""
    for thing in REPLACED:
        db.execute(f"DROP {thing}")
    if not fts5_available(db):
        logger.warning("SQLite %s has no FTS5: search will use LIKE", sqlite3.sqlite_version)
        return False
    for statement in QUEUE_SCHEMA:
        db.execute(statement)
    return True


def index_pending(db: Database, *, batch: int = SEARCH_BATCH) -> int:
    """Index every queued article, `batch` at a time, each batch its own write transaction;
    returns how many articles were indexed (or taken out)."""
    if QUEUE_TABLE not in db.table_names():
        return 0
    backlog = db.execute(f"SELECT count(*) FROM {QUEUE_TABLE}").fetchone()[0]
    if backlog > BACKLOG:  # a store just migrated to m012_fts: minutes at a million articles
        logger.info("indexing %d queued articles for search, %d per transaction", backlog, batch)
    total = 0
    while done := _index_batch(db, batch):
        total += done
    return total


def _index_batch(db: Database, batch: int) -> int:
    db.execute("BEGIN IMMEDIATE")  # one indexer at a time: another may have taken these
    try:
        entries = db.execute(
            f"""SELECT article_id, old_title, old_text FROM {QUEUE_TABLE}
                WHERE article_id IN (SELECT article_id FROM {QUEUE_TABLE} ORDER BY id LIMIT ?)
                ORDER BY id""",
            [batch],
        ).fetchall()
        # The first entry of an article says what the index holds of it: nothing (a new row),
        # or the old title and text (a row indexed, then changed or deleted).
        first: dict[int, tuple[str | None, str | None]] = {}
        for article_id, old_title, old_text in entries:
            first.setdefault(article_id, (old_title, old_text))
        _unindex(db, [(i, t, x) for i, (t, x) in first.items() if t is not None])
        _index(db, list(first))
        _forget(db, list(first))
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return len(first)


def _unindex(db: Database, rows: list[tuple[int, str | None, str | None]]) -> None:
    db.conn.executemany(
        f"""INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, title, text)
            VALUES ('delete', ?, ?, ?)""",
        [(i, pair_text(title), pair_text(text)) for i, title, text in rows],
    )


def _index(db: Database, ids: list[int]) -> None:
    for chunk in _chunks(ids):
        rows = db.execute(
            f"SELECT id, title, text FROM articles WHERE id IN ({','.join('?' * len(chunk))})",
            chunk,
        ).fetchall()
        db.conn.executemany(
            f"INSERT INTO {SEARCH_TABLE} (rowid, title, text) VALUES (?, ?, ?)",
            [(i, pair_text(title), pair_text(text)) for i, title, text in rows],
        )


def _forget(db: Database, ids: list[int]) -> None:
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        db.execute(f"DELETE FROM {QUEUE_TABLE} WHERE article_id IN ({marks})", chunk)


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    """SQLite caps the parameters of one statement."""
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def index_problem(db: Database) -> str:
    """Why the index cannot serve this database ('' when it can). Writes nothing."""
    if SEARCH_TABLE not in db.table_names():
        return (
            "this database has no full-text index yet: the next `followup crawl` adds it "
            "(on a SQLite with FTS5)"
        )
    try:
        db.execute(f"SELECT rowid FROM {SEARCH_TABLE} LIMIT 0")
    except sqlite3.OperationalError as exc:  # e.g. a file indexed where FTS5 exists
        return f"this SQLite ({sqlite3.sqlite_version}) cannot read its index: {exc}"
    return ""


# The search ---------------------------------------------------------------------------------


def parse_terms(text: str) -> list[str]:
    """The search terms: whitespace-separated, all of them must occur."""
    return text.split()


def operator_words(text: str) -> list[str]:
    """The terms a user may have meant as operators (OR, AND, NOT): searched as words here."""
    return [term for term in dict.fromkeys(parse_terms(text)) if term in OPERATOR_WORDS]


def search_articles(
    db: Database,
    text: str,
    *,
    topic: str | None = None,
    limit: int = 20,
    mark: tuple[str, str] = MARK,
) -> SearchResult:
    """Articles whose title or text contains every term, title hits first, then by relevance."""
    terms = parse_terms(text)
    if not terms:
        raise ValueError("nothing to search for: give at least one term")
    if not isinstance(db, Database):  # PostgreSQL: ILIKE, served by pg_trgm's GIN indexes
        hits = _like(db, terms, topic=topic, limit=limit, mark=mark, like="ILIKE")
        return SearchResult(hits, "trigram")
    note = index_problem(db)
    if not note and all(map(term_query, terms)):
        search = _ranked if all(map(exact_term, terms)) else _checked
        return SearchResult(search(db, terms, topic=topic, limit=limit, mark=mark), "match")
    return SearchResult(_like(db, terms, topic=topic, limit=limit, mark=mark), "like", note)


def like_pattern(term: str) -> str:
    """A LIKE pattern finding term anywhere, with % and _ taken literally (ESCAPE '\\')."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _title_hit(terms: list[str], *, like: str = "LIKE") -> tuple[str, list[str]]:
    """SQL true when every term is in the title (LIKE: case-insensitive for ASCII, as FTS)."""
    sql = " AND ".join(f"a.title {like} ? ESCAPE '\\'" for _ in terms)
    return f"({sql})", [like_pattern(t) for t in terms]


def _topic_filter(topic: str | None, *, column: str = "a.id") -> tuple[str, list[str]]:
    if topic is None:
        return "", []
    return f" AND {column} IN (SELECT article_id FROM article_topics WHERE topic = ?)", [topic]


# Articles still queued are left out of the index's answer (it may hold their old text) and
# checked with LIKE instead, ranked after the index's hits: there are at most a crawl's worth.
QUEUED = f"SELECT article_id FROM {QUEUE_TABLE}"


def _ranked(
    db: Database, terms: list[str], *, topic: str | None, limit: int, mark: tuple[str, str]
) -> list[SearchHit]:
    """Every term one run: ranked inside the index (title hits by a column filter, then bm25,
    then newest), so only the `limit` best articles are read."""
    query = match_query(" ".join(terms))
    if _matches(db, query, RANKED_MATCHES + 1) > RANKED_MATCHES:
        return _newest(db, terms, query, topic=topic, limit=limit, mark=mark)
    index_topic, index_topic_params = _topic_filter(topic, column="s.rowid")
    like_topic, like_topic_params = _topic_filter(topic)
    in_title, title_params = _title_hit(terms)
    found, found_params = _found(terms)
    rows = db.query(
        f"""SELECT a.url, a.source, a.published_at, a.fetched_at, a.baseline, a.title, a.text,
                   r.in_title
            FROM (SELECT s.rowid AS id, bm25({SEARCH_TABLE}, {TITLE_WEIGHT}, 1.0) AS score,
                         s.rowid IN (SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH ?)
                           AS in_title
                  FROM {SEARCH_TABLE} s
                  WHERE {SEARCH_TABLE} MATCH ? AND s.rowid NOT IN ({QUEUED}){index_topic}
                  UNION ALL
                  SELECT a.id, 0.0, {in_title} FROM articles a
                  WHERE a.id IN ({QUEUED}) AND {found}{like_topic}
                  ORDER BY 3 DESC, 2, 1 DESC LIMIT ?) r
            JOIN articles a ON a.id = r.id
            ORDER BY r.in_title DESC, r.score, a.id DESC""",
        [
            f"title : ({query})",
            query,
            *index_topic_params,
            *title_params,
            *found_params,
            *like_topic_params,
            limit,
        ],
    )
    return [_marked_hit(row, terms, mark) for row in rows]


def _matches(db: Database, query: str, most: int) -> int:
    """How many articles the index matches, counting no further than `most`."""
    sql = (
        f"SELECT count(*) FROM (SELECT 1 FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH ? LIMIT ?)"
    )
    return int(db.execute(sql, [query, most]).fetchone()[0])


def _newest(
    db: Database,
    terms: list[str],
    query: str,
    *,
    topic: str | None,
    limit: int,
    mark: tuple[str, str],
) -> list[SearchHit]:
    """A term too common to rank: title hits, then the others, newest first in each, read from
    the end of the index and stopping at `limit`; queued articles after each group's."""
    titled = _newest_ids(db, f"title : ({query})", topic=topic, limit=limit)
    others = _newest_ids(db, query, topic=topic, limit=limit + len(titled))
    queued = _queued_rows(db, terms, topic=topic, limit=limit)
    in_title = dict.fromkeys(titled, True) | {row["id"]: bool(row["in_title"]) for row in queued}
    ordered = dict.fromkeys(
        [
            *titled,
            *(row["id"] for row in queued if row["in_title"]),
            *others,
            *(row["id"] for row in queued if not row["in_title"]),
        ]
    )
    ids = list(ordered)[:limit]
    marks = ",".join("?" * len(ids))
    rows = db.query(
        f"""SELECT id, url, source, published_at, fetched_at, baseline, title, text
            FROM articles WHERE id IN ({marks})""",
        ids,
    )
    found = {row["id"]: row | {"in_title": in_title.get(row["id"], False)} for row in rows}
    return [_marked_hit(found[i], terms, mark) for i in ids if i in found]


def _newest_ids(db: Database, query: str, *, topic: str | None, limit: int) -> list[int]:
    topic_sql, topic_params = _topic_filter(topic, column="rowid")
    rows = db.execute(
        f"""SELECT rowid FROM {SEARCH_TABLE}
            WHERE {SEARCH_TABLE} MATCH ? AND rowid NOT IN ({QUEUED}){topic_sql}
            ORDER BY rowid DESC LIMIT ?""",
        [query, *topic_params, limit],
    )
    return [row[0] for row in rows]


def _queued_rows(
    db: Database, terms: list[str], *, topic: str | None, limit: int
) -> list[dict[str, Any]]:
    """The queued articles holding every term (LIKE), title hits first, newest first."""
    in_title, title_params = _title_hit(terms)
    found, found_params = _found(terms)
    topic_sql, topic_params = _topic_filter(topic)
    return list(
        db.query(
            f"""SELECT a.id, {in_title} AS in_title FROM articles a
                WHERE a.id IN ({QUEUED}) AND {found}{topic_sql}
                ORDER BY in_title DESC, a.id DESC LIMIT ?""",
            [*title_params, *found_params, *topic_params, limit],
        )
    )


def _checked(
    db: Database, terms: list[str], *, topic: str | None, limit: int, mark: tuple[str, str]
) -> list[SearchHit]:
    """A term with punctuation inside: candidates from the index, each term checked with LIKE."""
    candidates = f"""(SELECT rowid AS id, bm25({SEARCH_TABLE}, {TITLE_WEIGHT}, 1.0) AS score
                      FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH ? AND rowid NOT IN ({QUEUED})
                      UNION ALL SELECT DISTINCT article_id, 0.0 FROM {QUEUE_TABLE}) c
                     JOIN articles a ON a.id = c.id"""
    return _like(
        db,
        terms,
        topic=topic,
        limit=limit,
        mark=mark,
        candidates=(candidates, match_query(" ".join(terms))),
    )


def _found(terms: list[str], *, like: str = "LIKE") -> tuple[str, list[str]]:
    """SQL true when every term is in the title or the text (LIKE)."""
    sql = " AND ".join(
        f"(a.title {like} ? ESCAPE '\\' OR a.text {like} ? ESCAPE '\\')" for _ in terms
    )
    return f"({sql})", [like_pattern(t) for t in terms for _ in (0, 1)]


def _marked_hit(row: dict[str, Any], terms: list[str], mark: tuple[str, str]) -> SearchHit:
    return _hit(
        {**row, "title": mark_terms(row["title"], terms, mark)},
        snippet_around(row["text"], terms, mark=mark),
    )


def _like(
    db: Database,
    terms: list[str],
    *,
    topic: str | None,
    limit: int,
    mark: tuple[str, str],
    candidates: tuple[str, str] | None = None,
    like: str = "LIKE",
) -> list[SearchHit]:
    """Every term checked with LIKE: in all articles, newest first, or in the `candidates`
    (a FROM clause and its query) ranked by bm25 (`like`: ILIKE on PostgreSQL, whose LIKE
    minds case)."""
    in_title, title_params = _title_hit(terms, like=like)
    topic_sql, topic_params = _topic_filter(topic)
    found, found_params = _found(terms, like=like)
    source, order, source_params = "articles a", "coalesce(a.published_at, a.fetched_at) DESC", []
    if candidates is not None:
        source, order, source_params = candidates[0], "c.score", [candidates[1]]
    rows = db.query(
        f"""SELECT a.url, a.source, a.published_at, a.fetched_at, a.baseline, a.title, a.text,
                   {in_title} AS in_title
            FROM {source}
            WHERE {found}{topic_sql}
            ORDER BY in_title DESC, {order}, a.id DESC
            LIMIT ?""",
        [*title_params, *source_params, *found_params, *topic_params, limit],
    )
    return [_marked_hit(row, terms, mark) for row in rows]


# m010_search's bigram index, which m012_fts drops: the function its triggers call on a store
# that ran m010 and has not yet run m012 (registered on every connection), and its schema, which
# the benchmark builds as the baseline of measurement 10 ---------------------------------------

BIGRAM_TABLE = "articles_bigrams"
BIGRAM_FUNCTION = "followup_bigrams"


def bigram_text(text: str | None) -> str:
    """m010's index text: the overlapping pairs of each run of letters and digits."""
    runs = TOKEN_RUN_RE.findall(text or "")
    return " ".join(run[i : i + 2] for run in runs for i in range(len(run) - 1))


def bigrams_of(values: str) -> str:
    return f"{BIGRAM_FUNCTION}({values})"


BIGRAM_SCHEMA = (
    f"""CREATE VIRTUAL TABLE {BIGRAM_TABLE} USING fts5(title, text, content='', detail=column,
        tokenize='unicode61 remove_diacritics 0')""",
    f"""CREATE TRIGGER {BIGRAM_TABLE}_ai AFTER INSERT ON articles BEGIN
        INSERT INTO {BIGRAM_TABLE} (rowid, title, text)
        VALUES (new.id, {bigrams_of("new.title")}, {bigrams_of("new.text")});
    END""",
    f"""CREATE TRIGGER {BIGRAM_TABLE}_ad AFTER DELETE ON articles BEGIN
        INSERT INTO {BIGRAM_TABLE} ({BIGRAM_TABLE}, rowid, title, text)
        VALUES ('delete', old.id, {bigrams_of("old.title")}, {bigrams_of("old.text")});
    END""",
    f"""CREATE TRIGGER {BIGRAM_TABLE}_au AFTER UPDATE OF id, title, text ON articles BEGIN
        INSERT INTO {BIGRAM_TABLE} ({BIGRAM_TABLE}, rowid, title, text)
        VALUES ('delete', old.id, {bigrams_of("old.title")}, {bigrams_of("old.text")});
        INSERT INTO {BIGRAM_TABLE} (rowid, title, text)
        VALUES (new.id, {bigrams_of("new.title")}, {bigrams_of("new.text")});
    END""",
    f"""INSERT INTO {BIGRAM_TABLE} (rowid, title, text)
        SELECT id, {bigrams_of("title")}, {bigrams_of("text")} FROM articles""",
)


def _hit(row: dict[str, Any], snippet: str) -> SearchHit:
    return SearchHit(
        url=row["url"],
        source=row["source"],
        title=row["title"],
        snippet=snippet,
        published_at=row["published_at"],
        fetched_at=row["fetched_at"],
        baseline=bool(row["baseline"]),
        in_title=bool(row["in_title"]),
    )


def snippet_around(
    text: str, terms: list[str], *, mark: tuple[str, str] = MARK, width: int = SNIPPET_CHARS
) -> str:
    """A window of about `width` characters around the first hit in text, terms marked."""
    flat = " ".join(text.split())
    haystack = _fold(flat)
    starts = [i for i in (haystack.find(_fold(t)) for t in terms) if i >= 0]
    first = min(starts, default=0)
    begin = max(0, first - width // 4)
    end = min(len(flat), begin + width)
    window = mark_terms(flat[begin:end], terms, mark)
    return ("…" if begin else "") + window + ("…" if end < len(flat) else "")


def mark_terms(text: str, terms: list[str], mark: tuple[str, str] = MARK) -> str:
    """text with every occurrence of every term (ignoring case) between the marks."""
    haystack = _fold(text)
    spans = []
    for needle in (_fold(term) for term in terms if term):
        start = haystack.find(needle)
        while start >= 0:
            spans.append((start, start + len(needle)))
            start = haystack.find(needle, start + len(needle))
    out, position = [], 0
    for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):
        if start < position:
            continue  # overlaps a longer or earlier span already marked
        out += [text[position:start], mark[0], text[start:end], mark[1]]
        position = end
    out.append(text[position:])
    return "".join(out)


def _fold(text: str) -> str:
    """text case-folded where that keeps every offset (it does for CJK and ASCII)."""
    folded = text.casefold()
    return folded if len(folded) == len(text) else text


def format_hits(hits: list[SearchHit]) -> str:
    """Numbered hits for the terminal: title, then source, time (Beijing) and URL, then snippet."""
    lines = []
    for number, hit in enumerate(hits, start=1):
        stored = hit.published_at or hit.fetched_at
        moment = beijing_time(stored)
        when = f"{moment:%Y-%m-%d %H:%M} (UTC+8)" if moment else stored
        mark = "  [known coverage]" if hit.baseline else ""
        lines += [
            f"{number}. {one_line(hit.title)}{mark}",
            f"   {hit.source} · {when} · {hit.url}",
            f"   {one_line(hit.snippet)}",
            "",
        ]
    return "\n".join(lines)
