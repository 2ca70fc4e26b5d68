"""Full-text search over stored articles: FTS5 with the trigram tokenizer, LIKE where it can't.

The index is set up the way sqlite-utils does it (`enable_fts`): a table `articles_fts` over
`articles(title, text)` that keeps no copy of the text (`content="articles"`), kept in sync by
the triggers `articles_ai`, `articles_ad` and `articles_au`. That is what Datasette detects to show
a search box on the `articles` table. The default unicode61 tokenizer makes a run of Chinese
one token, so it cannot find 微信支付 inside a sentence; trigram indexes every three characters.

A trigram MATCH needs terms of at least three characters. Two-character terms (阿里, 腾讯, AI —
the most common Chinese queries) are looked up in a second index, `articles_bigrams`: every run of
letters and digits written as its overlapping pairs (微信支付 → "微信 信支 支付"), indexed by the
default unicode61 tokenizer, so a two-character term is one token. It stores neither the text
(contentless) nor positions (`detail=column`: a single token needs none), about a quarter of the
trigram index's size. Its triggers call `followup_bigrams()`, a Python function every connection
that writes articles registers (`register_search_functions`; `Store` does). A term mixing two and
more characters uses that index for candidates and checks each term with LIKE.

One-character terms, terms with punctuation inside, and a database without the indexes (a SQLite
without FTS5, or a file no crawl has migrated yet) are searched by LIKE on the base table, and a
missing index says so.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

from sqlite_utils import Database

from crawler.dates import beijing_time
from crawler.text import one_line

logger = logging.getLogger(__name__)

FTS_TABLE = "articles_fts"
FTS_COLUMNS = ("title", "text")
TOKENIZER = "trigram"
MIN_MATCH_CHARS = 3  # a trigram index has nothing to look up in a shorter term
BIGRAM_TABLE = "articles_bigrams"
BIGRAM_FUNCTION = "followup_bigrams"
# What unicode61 keeps in a token: letters and digits (underscore is punctuation to it).
TOKEN_RUN_RE = re.compile(r"[^\W_]+")
TITLE_WEIGHT = 10.0  # bm25 weight of the title against 1.0 for the text
SNIPPET_CHARS = 36  # trigram tokens are characters: the snippet's length in characters
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
    method: Literal["match", "bigrams", "like", "trigram"]
    note: str = ""  # why the index could not be used, when it could not


def enable_search_index(db: Database) -> bool:
    """Create the FTS5 trigram index and its triggers; False when this SQLite has no trigram."""
    if not trigram_available(db):
        logger.warning(
            "SQLite %s has no FTS5 trigram tokenizer: no search index; search will use LIKE",
            sqlite3.sqlite_version,
        )
        return False
    db.table("articles").enable_fts(list(FTS_COLUMNS), tokenize=TOKENIZER, create_triggers=True)
    return True


def trigram_available(db: Database) -> bool:
    """True when this SQLite has FTS5 and its trigram tokenizer (3.34+ built with FTS5)."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp.followup_probe USING fts5(x, tokenize='trigram')")
    except sqlite3.OperationalError:
        return False
    db.execute("DROP TABLE temp.followup_probe")
    return True


def bigram_text(text: str | None) -> str:
    """The overlapping pairs of each run of letters and digits, space-separated (the index's text)."""
    runs = TOKEN_RUN_RE.findall(text or "")
    return " ".join(run[i : i + 2] for run in runs for i in range(len(run) - 1))


def register_search_functions(db: Database) -> None:
    """Give this connection followup_bigrams(), which the bigram index's triggers call."""
    db.conn.create_function(BIGRAM_FUNCTION, 1, bigram_text, deterministic=True)


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
    # Existing rows: the migration indexes them in its own transaction.
    f"""INSERT INTO {BIGRAM_TABLE} (rowid, title, text)
        SELECT id, {bigrams_of("title")}, {bigrams_of("text")} FROM articles""",
)


def enable_bigram_index(db: Database) -> bool:
    """Create and fill the two-character index; False when this SQLite has no FTS5."""
    register_search_functions(db)
    try:
        db.execute("CREATE VIRTUAL TABLE temp.followup_probe USING fts5(x)")
    except sqlite3.OperationalError:
        logger.warning(
            "SQLite %s has no FTS5: two-character search will use LIKE", sqlite3.sqlite_version
        )
        return False
    db.execute("DROP TABLE temp.followup_probe")
    for statement in BIGRAM_SCHEMA:
        db.execute(statement)
    return True


def bigram_term(term: str) -> bool:
    """True when the bigram index can find term: two or more letters and digits, nothing else."""
    return len(term) >= 2 and TOKEN_RUN_RE.fullmatch(term) is not None


def index_problem(db: Database) -> str:
    """Why the FTS index cannot serve this database ('' when it can). Writes nothing."""
    if db.table("articles").detect_fts() != FTS_TABLE:
        return (
            "this database has no full-text index yet: the next `followup crawl` adds it "
            "(on a SQLite with FTS5 trigram)"
        )
    try:
        db.execute(f"SELECT rowid FROM {FTS_TABLE} LIMIT 0")
    except sqlite3.OperationalError as exc:  # e.g. a file indexed where trigram exists
        return f"this SQLite ({sqlite3.sqlite_version}) cannot read its index: {exc}"
    return ""


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
    if not note and all(len(term) >= MIN_MATCH_CHARS for term in terms):
        return SearchResult(_match(db, terms, topic=topic, limit=limit, mark=mark), "match")
    if not note and BIGRAM_TABLE in db.table_names() and all(map(bigram_term, terms)):
        return SearchResult(_bigrams(db, terms, topic=topic, limit=limit, mark=mark), "bigrams")
    return SearchResult(_like(db, terms, topic=topic, limit=limit, mark=mark), "like", note)


def fts_phrase(term: str) -> str:
    """A term as an FTS5 phrase: quoted, inner quotes doubled, so no operator syntax applies."""
    return '"' + term.replace('"', '""') + '"'


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


def _match(
    db: Database, terms: list[str], *, topic: str | None, limit: int, mark: tuple[str, str]
) -> list[SearchHit]:
    # Ranked inside the index first (title hits by a column filter, then bm25): snippets and
    # article rows only for the `limit` best, not for every match of a common term.
    topic_sql, topic_params = _topic_filter(topic, column="f.rowid")
    phrases = " ".join(map(fts_phrase, terms))
    rows = db.query(
        f"""WITH best AS (
                SELECT f.rowid AS id, bm25({FTS_TABLE}, {TITLE_WEIGHT}, 1.0) AS score,
                       f.rowid IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)
                         AS in_title
                FROM {FTS_TABLE} f WHERE {FTS_TABLE} MATCH ?{topic_sql}
                ORDER BY in_title DESC, score, f.rowid DESC LIMIT ?)
            SELECT a.url, a.source, a.published_at, a.fetched_at, a.baseline, best.in_title,
                   highlight({FTS_TABLE}, 0, ?, ?) AS title,
                   snippet({FTS_TABLE}, 1, ?, ?, '…', {SNIPPET_CHARS}) AS snippet
            FROM {FTS_TABLE} JOIN best ON best.id = {FTS_TABLE}.rowid
            JOIN articles a ON a.id = best.id
            WHERE {FTS_TABLE} MATCH ? AND {FTS_TABLE}.rowid IN (SELECT id FROM best)
            ORDER BY best.in_title DESC, best.score, a.id DESC""",
        [f"title : ({phrases})", phrases, *topic_params, limit, *mark, *mark, phrases],
    )
    return [_hit(row, row["snippet"]) for row in rows]


def bigram_query(terms: list[str], *, column: str | None = None) -> str:
    """An FTS5 query for the bigram index: every pair of every term (candidates for longer ones)."""
    pairs = dict.fromkeys(bigram_text(term) for term in terms).keys()
    query = " AND ".join(fts_phrase(pair) for group in pairs for pair in group.split())
    return f"{column} : ({query})" if column else query


def _bigrams(
    db: Database, terms: list[str], *, topic: str | None, limit: int, mark: tuple[str, str]
) -> list[SearchHit]:
    """Title hits first, then by bm25, then newest; longer terms checked with LIKE."""
    if any(len(term) > 2 for term in terms):
        return _checked_bigrams(db, terms, topic=topic, limit=limit, mark=mark)
    # Two characters each: one token per term, the index is the whole answer. Ranked inside the
    # index, so only the `limit` best articles are read (a common term is in a fifth of them).
    topic_sql, topic_params = _topic_filter(topic, column="b.rowid")
    rows = db.query(
        f"""SELECT a.url, a.source, a.published_at, a.fetched_at, a.baseline, a.title, a.text,
                   r.in_title
            FROM (SELECT b.rowid AS id, bm25({BIGRAM_TABLE}, {TITLE_WEIGHT}, 1.0) AS score,
                         b.rowid IN (SELECT rowid FROM {BIGRAM_TABLE} WHERE {BIGRAM_TABLE} MATCH ?)
                           AS in_title
                  FROM {BIGRAM_TABLE} b WHERE {BIGRAM_TABLE} MATCH ?{topic_sql}
                  ORDER BY in_title DESC, score, b.rowid DESC LIMIT ?) r
            JOIN articles a ON a.id = r.id
            ORDER BY r.in_title DESC, r.score, a.id DESC""",
        [bigram_query(terms, column="title"), bigram_query(terms), *topic_params, limit],
    )
    return [_marked_hit(row, terms, mark) for row in rows]


def _checked_bigrams(
    db: Database, terms: list[str], *, topic: str | None, limit: int, mark: tuple[str, str]
) -> list[SearchHit]:
    """Candidates from the bigram index, ranked by bm25, each term then checked with LIKE."""
    return _like(db, terms, topic=topic, limit=limit, mark=mark, candidates=bigram_query(terms))


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
    candidates: str | None = None,
    like: str = "LIKE",
) -> list[SearchHit]:
    """Every term checked with LIKE: in all articles, newest first, or in the `candidates` a
    bigram query finds, ranked by bm25 (`like`: ILIKE on PostgreSQL, whose LIKE minds case)."""
    in_title, title_params = _title_hit(terms, like=like)
    topic_sql, topic_params = _topic_filter(topic)
    found, found_params = _found(terms, like=like)
    source, order = "articles a", "coalesce(a.published_at, a.fetched_at) DESC"
    if candidates is not None:
        source = f"""(SELECT rowid, bm25({BIGRAM_TABLE}, {TITLE_WEIGHT}, 1.0) AS score
                      FROM {BIGRAM_TABLE} WHERE {BIGRAM_TABLE} MATCH ?) b
                     JOIN articles a ON a.id = b.rowid"""
        order = "b.score"
    rows = db.query(
        f"""SELECT a.url, a.source, a.published_at, a.fetched_at, a.baseline, a.title, a.text,
                   {in_title} AS in_title
            FROM {source}
            WHERE {found}{topic_sql}
            ORDER BY in_title DESC, {order}, a.id DESC
            LIMIT ?""",
        [*title_params, *([candidates] if candidates else []), *found_params, *topic_params, limit],
    )
    return [_marked_hit(row, terms, mark) for row in rows]


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
