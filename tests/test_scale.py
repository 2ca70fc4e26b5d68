"""Issue 16 point 5: what a crawl and `followup status` read on a large store, read cheaply.

Behaviour only, never time: the recent-fingerprint window returns the rows of the query it
replaces whichever plan reads them; status and the health codes read from crawl_run_sources
what they read from crawl_runs.stats before; pruning crawl runs keeps what they need.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from crawler import neardup
from crawler.dates import to_iso, utcnow
from crawler.export import SENTENCE_ENDS, excerpt
from crawler.health import HISTORY, find_health, get_health, get_runs
from crawler.neardup import (
    WINDOW_BY_ARTICLE,
    WINDOW_BY_FINGERPRINT,
    RecentFingerprints,
    _window_query,
)
from crawler.state import SourceState, save_source_state
from crawler.status import format_status, get_status, status_json
from crawler.store import Store, open_store
from crawler.text import one_line
from tests.pg import pg_url  # noqa: F401 (a fixture)
from tests.services import postgres  # noqa: F401 (a fixture)

DAY = timedelta(days=1)
MAX_FAILING = timedelta(hours=6)
# The window's query before m013_scale, word for word: the reference for both plans.
WINDOW_BEFORE = """SELECT f.id, f.article_id, f.value FROM fingerprints f
                   JOIN articles a ON a.id = f.article_id
                   WHERE f.id > ? AND a.fetched_at >= ? ORDER BY f.id DESC LIMIT ?"""


# The recent-fingerprint window -----------------------------------------------------------------


def store_with_fingerprints(tmp_path: Path, *, old: int, recent: int, now: datetime) -> Store:
    """Articles fetched long ago then recently, each with a fingerprint; some old articles
    revised recently (a new fingerprint row of an old article: outside the window)."""
    store = Store.open(tmp_path / "f.db")
    rng = random.Random(7)
    with store.transaction():
        for i in range(old + recent):
            fetched = now - (400 * DAY if i < old else timedelta(minutes=old + recent - i))
            article_id = store.db.execute(
                """INSERT INTO articles (url, source, title, fetched_at, text, title_key)
                   VALUES (?, 's', 't', ?, 'x', ?)""",
                [f"https://s.example/{i}", to_iso(fetched), f"k{i}"],
            ).lastrowid
            store.neardup.save_fingerprint(article_id, rng.getrandbits(64))
            if i % 7 == 3 and i < old:
                store.neardup.save_fingerprint(article_id, rng.getrandbits(64))
    return store


def window_before(store: Store, *, last_id: int, since: datetime, limit: int) -> list[tuple]:
    return [
        tuple(row)
        for row in store.db.execute(WINDOW_BEFORE, [last_id, to_iso(since), limit]).fetchall()
    ]


def window_now(store: Store, *, last_id: int, since: datetime, limit: int) -> tuple[str, list]:
    sql, params = _window_query(store.db, last_id, since, limit)
    return sql, [tuple(row) for row in store.db.execute(sql, params).fetchall()]


@pytest.mark.parametrize(
    ("old", "recent", "few", "plan"),
    [
        (300, 40, 1000, WINDOW_BY_ARTICLE),  # a quiet store: few recent articles
        (300, 40, 10, WINDOW_BY_FINGERPRINT),  # a busy one (the threshold lowered to 10)
        (300, 0, 1000, WINDOW_BY_ARTICLE),  # nothing recent at all
    ],
)
def test_the_recent_window_reads_the_same_rows_whichever_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: int, recent: int, few: int, plan: str
) -> None:
    monkeypatch.setattr(neardup, "FEW_RECENT", few)
    now = utcnow()
    store = store_with_fingerprints(tmp_path, old=old, recent=recent, now=now)
    since = now - neardup.RECENT_WINDOW
    for limit in (5, 25, 5000):
        sql, rows = window_now(store, last_id=0, since=since, limit=limit)
        assert sql == plan
        assert rows == window_before(store, last_id=0, since=since, limit=limit)
        assert len(rows) == min(limit, recent)
    # A top-up reads past the last fingerprint read, newest first, whatever the store.
    sql, rows = window_now(store, last_id=old, since=since, limit=5000)
    assert sql == WINDOW_BY_FINGERPRINT
    assert rows == window_before(store, last_id=old, since=since, limit=5000)


def test_the_window_in_memory_holds_the_recent_fingerprints_and_tops_up(tmp_path: Path) -> None:
    now = utcnow()
    store = store_with_fingerprints(tmp_path, old=200, recent=30, now=now)
    window = RecentFingerprints()
    window.refresh(store.db, since=now - neardup.RECENT_WINDOW)
    expected = window_before(store, last_id=0, since=now - neardup.RECENT_WINDOW, limit=5000)
    assert window.row_ids.tolist() == [row[0] for row in reversed(expected)]
    with store.transaction():
        article_id = store.db.execute(
            """INSERT INTO articles (url, source, title, fetched_at, text, title_key)
               VALUES ('https://s.example/new', 's', 't', ?, 'x', 'knew')""",
            [to_iso(now)],
        ).lastrowid
        store.neardup.save_fingerprint(article_id, 12345)
    window.refresh(store.db, since=now - neardup.RECENT_WINDOW)
    assert len(window.row_ids) == 31
    assert window.nearest(12345) == (article_id, 0)


# Status and health from crawl_run_sources -------------------------------------------------------

SOURCES = ("alpha", "beta", "gamma")
# Figures a run of a source may end with: quiet (304), read and fine, empty, blocked, fallback,
# redirected, undated, with new entries or none.
KINDS = (
    {"lists_read": 1, "not_modified": 1},
    {"lists_read": 1, "not_modified": 1, "entries": 3},  # new entries, yet telling no rule
    {"lists_read": 1, "entries": 5, "already_seen": 5},
    {"lists_read": 1, "entries": 5, "already_seen": 2, "site_extracted": 3, "new": 2},
    {"lists_read": 1, "empty_lists": 1},
    {"lists_read": 1, "entries": 3, "blocked": 3},
    {"lists_read": 1, "entries": 4, "site_extracted": 1, "fallback_extracted": 3, "new": 1},
    {"lists_read": 1, "entries": 2, "site_extracted": 2, "redirected": 1, "irrelevant": 2},
    {"lists_read": 1, "entries": 2, "site_extracted": 2, "undated": 2, "duplicates": 1},
    {"lists_read": 0, "lists_failed": 1},
)


def random_history(store: Store, rng: random.Random, *, now: datetime, runs: int) -> list[int]:
    """Finished runs over 45 days (some of several sources, a source in a bad spell now and
    then), one unfinished; their ids."""
    ids = []
    spells = {source: rng.choice(KINDS[4:]) for source in SOURCES}  # each source's bad spell
    times = sorted(rng.sample(range(45 * 24 * 60), runs), reverse=True)
    for n, minutes in enumerate(times):
        sources = rng.sample(SOURCES, rng.choice((1, 1, 1, 2)))
        run_id = store.start_run(sources)
        figures = {s: dict(rng.choice(KINDS[:4] if rng.random() < 0.6 else KINDS)) for s in sources}
        if n > runs * 0.9:  # the newest runs: mostly the spell
            figures = {s: dict(spells[s] if rng.random() < 0.8 else f) for s, f in figures.items()}
        store.finish_run(run_id, {"reason": "finished", "sources": figures})
        started = now - timedelta(minutes=minutes)
        store.db.execute(
            "UPDATE crawl_runs SET started_at = ? WHERE id = ?", [to_iso(started), run_id]
        )
        ids.append(run_id)
    store.start_run(["alpha"])  # still running: no figures
    for source in SOURCES[:2]:
        save_source_state(
            store.db,
            SourceState(source, interval=timedelta(minutes=15), last_run_id=rng.choice(ids)),
        )
    return ids


def health_before(store: Store, *, now: datetime) -> dict:
    """get_health as it was: every run of HISTORY parsed from crawl_runs.stats."""
    runs = get_runs(store.db, since=now - HISTORY)
    states = {s: SourceState(s, interval=timedelta(minutes=15)) for s in SOURCES[:2]}
    return {
        source: find_health(runs.get(source, []), states.get(source), now=now)
        for source in sorted({*states, *runs})
    }


@pytest.mark.parametrize("seed", range(6))
def test_health_from_verdicts_is_health_from_every_runs_figures(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    now = utcnow()
    store = Store.open(tmp_path / "f.db")
    random_history(store, rng, now=now, runs=rng.choice((40, 150, 400)))
    found = get_health(store.db, now=now, max_failing=MAX_FAILING)
    assert found == health_before(store, now=now)
    assert any(found.values()), "the history should show some code"


def test_status_figures_are_the_runs_of_the_last_24_hours(tmp_path: Path) -> None:
    rng = random.Random(11)
    now = utcnow()
    store = Store.open(tmp_path / "f.db")
    random_history(store, rng, now=now, runs=300)
    day = get_runs(store.db, since=now - DAY)
    for status in get_status(store.db, now=now, max_failing=MAX_FAILING):
        runs = day.get(status.source, [])
        assert status.runs_24h == len(runs)
        assert status.new_24h == sum(run.figures.get("new", 0) for run in runs)
        assert status.duplicates_24h == sum(run.figures.get("duplicates", 0) for run in runs)
        assert status.irrelevant_24h == sum(run.figures.get("irrelevant", 0) for run in runs)


def test_a_store_with_runs_from_before_m013_gets_their_verdicts(tmp_path: Path) -> None:
    """m013_scale fills crawl_run_sources from the runs already stored."""
    rng = random.Random(3)
    now = utcnow()
    store = Store.open(tmp_path / "f.db")
    random_history(store, rng, now=now, runs=120)
    expected = get_health(store.db, now=now)
    rows = store.db.execute("SELECT * FROM crawl_run_sources ORDER BY 1, 2, 3").fetchall()
    with store.transaction():  # back to a store without m013_scale, its runs kept
        for statement in (
            "DROP TABLE crawl_run_sources",
            "DROP TRIGGER crawl_run_sources_started_at",
            "DROP INDEX articles_fetched_at",
            "DROP INDEX fingerprints_article_id",
            "DROP INDEX articles_source_recheck",
            "DELETE FROM _sqlite_migrations WHERE name = 'm013_scale'",
        ):
            store.db.execute(statement)
    store.close()
    store = Store.open(tmp_path / "f.db")
    assert store.db.execute("SELECT * FROM crawl_run_sources ORDER BY 1, 2, 3").fetchall() == rows
    assert get_health(store.db, now=now) == expected


# Pruning crawl runs -----------------------------------------------------------------------------


def test_pruning_runs_keeps_what_status_and_health_read(tmp_path: Path) -> None:
    rng = random.Random(5)
    now = utcnow()
    store = Store.open(tmp_path / "f.db")
    ids = random_history(store, rng, now=now, runs=400)
    # A source the daemon polls whose last run is older than any kept history.
    old_run = store.start_run(["delta"])
    store.finish_run(old_run, {"reason": "finished", "sources": {"delta": dict(KINDS[2])}})
    store.db.execute(
        "UPDATE crawl_runs SET started_at = ? WHERE id = ?", [to_iso(now - 200 * DAY), old_run]
    )
    save_source_state(store.db, SourceState("delta", timedelta(hours=1), last_run_id=old_run))
    statuses = get_status(store.db, now=now, max_failing=MAX_FAILING)
    before = (status_json(statuses), format_status(statuses, now=now))
    kept_ids = {
        row[0]
        for row in store.db.execute(
            "SELECT id FROM crawl_runs WHERE started_at >= ?", [to_iso(now - HISTORY)]
        )
    }

    # Asked to forget everything older than a day: the last 30 days stay all the same.
    gone = store.prune_runs(before=now - DAY)

    remaining = {row[0] for row in store.db.execute("SELECT id FROM crawl_runs")}
    assert remaining == kept_ids | {old_run} | last_run_ids(store)
    assert gone == len(ids) + 2 - len(remaining)  # + the unfinished run and delta's
    assert gone > 50
    statuses = get_status(store.db, now=now, max_failing=MAX_FAILING)
    assert (status_json(statuses), format_status(statuses, now=now)) == before
    orphans = store.db.execute(
        "SELECT count(*) FROM crawl_run_sources WHERE run_id NOT IN (SELECT id FROM crawl_runs)"
    ).fetchone()[0]
    assert orphans == 0


def last_run_ids(store: Store) -> set[int]:
    return {
        row[0]
        for row in store.db.execute(
            "SELECT last_run_id FROM source_state WHERE last_run_id IS NOT NULL"
        )
    }


# Export -------------------------------------------------------------------------------------


def test_an_excerpt_reads_only_the_opening_yet_is_the_whole_texts() -> None:
    """excerpt flattens only an opening of a long text: the same excerpt as of the whole."""
    rng = random.Random(1)
    pieces = ["微信支付", "。", "！", " ", "\n\n", "\t", "\x00", "abc", "句子结束；", "  \u3000 "]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 400)))
        for limit in (5, 80):
            assert excerpt(text, limit=limit) == excerpt_of_whole(text, limit=limit), text


def excerpt_of_whole(text: str, *, limit: int) -> str:
    """crawler.export.excerpt before it read only the opening."""
    flat = one_line(text)
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    end = max(cut.rfind(c) for c in SENTENCE_ENDS)
    return cut[: end + 1] if end >= limit * 0.6 else cut.rstrip() + "…"


# Plans that do not depend on statistics ---------------------------------------------------------


def test_the_title_lookup_reads_its_indexes_after_analyze(tmp_path: Path) -> None:
    """With ANALYZE's statistics of a store whose original_title_key is all NULL, the title
    lookup of every crawled article once became a scan of all articles."""
    store = store_with_fingerprints(tmp_path, old=300, recent=10, now=utcnow())
    store.db.execute("ANALYZE")
    plans = []
    store.db.conn.set_trace_callback(plans.append)
    try:
        assert store.neardup._find_by_title(["k3", "other"]) is not None
        assert store.neardup._find_by_title(["nothing"], newsflash_only=True) is None
    finally:
        store.db.conn.set_trace_callback(None)
    for sql in plans:
        steps = [row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert not [step for step in steps if step.startswith("SCAN articles")], (sql, steps)


def test_a_recheck_reads_its_window_after_analyze(tmp_path: Path) -> None:
    """A source's recheck window through articles_source_recheck, not all of its articles."""
    now = utcnow()
    store = store_with_fingerprints(tmp_path, old=300, recent=10, now=now)
    store.db.execute("ANALYZE")
    plans: list[str] = []
    store.db.conn.set_trace_callback(plans.append)
    try:
        rows = list(store.iter_recheck("s", since=now - DAY))
    finally:
        store.db.conn.set_trace_callback(None)
    assert [row["id"] for row in rows] == list(range(301, 311))
    (sql,) = [sql for sql in plans if "baseline = 0" in sql]
    steps = [row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}")]
    assert [step for step in steps if "articles_source_recheck" in step], steps


# The same on PostgreSQL -------------------------------------------------------------------------


def test_health_status_and_pruning_on_postgresql(pg_url: str) -> None:  # noqa: F811
    """crawl_run_sources on PostgreSQL: the same codes as from every run's figures, and a
    pruned history that leaves status as it was."""
    rng = random.Random(2)
    now = utcnow()
    store = open_store(pg_url)
    try:
        random_history(store, rng, now=now, runs=150)
        found = get_health(store.db, now=now, max_failing=MAX_FAILING)
        assert found == health_before(store, now=now)
        assert any(found.values())
        before = format_status(get_status(store.db, now=now, max_failing=MAX_FAILING), now=now)
        assert store.prune_runs(before=now - DAY) > 10
        after = format_status(get_status(store.db, now=now, max_failing=MAX_FAILING), now=now)
        assert after == before
    finally:
        store.close()
