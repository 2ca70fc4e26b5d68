"""Issue 16 point 5: a crawl's cost per article does not grow with the store.

Behaviour only, never time (speed is bench measurement 14's): the band lookup reads only the
band indexes whatever ANALYZE says, and finds what a comparison with every stored fingerprint
finds; the recent window holds exactly the rows and values of its query; m014_flat gives an
older store the new band indexes.
"""

from __future__ import annotations

import random
from pathlib import Path

from sqlite_utils import Database

from crawler import neardup
from crawler.dates import utcnow
from crawler.fingerprint import from_signed, hamming, split_bands
from crawler.neardup import BAND_CANDIDATES, RecentFingerprints
from crawler.schema import MIGRATIONS
from crawler.store import Store
from tests.test_scale import store_with_fingerprints, window_before

BAND = 0xFFFF


def band_neighbours(rng: random.Random, probe: int, count: int) -> list[int]:
    """Fingerprints sharing one band of probe (a random one each), the rest random: every
    one a band candidate of probe, at every distance."""
    values = []
    for _ in range(count):
        shift = 16 * rng.randrange(4)
        value = rng.getrandbits(64) & ~(BAND << shift) | (probe & (BAND << shift))
        values.append(value)
    return values


def reference_nearest(store: Store, value: int) -> tuple[int, int] | None:
    """(article_id, distance) of the closest stored fingerprint sharing a band with value,
    the lowest row id of equals: read from every row."""
    bands = split_bands(value)
    rows = store.db.execute("SELECT id, article_id, value, b0, b1, b2, b3 FROM fingerprints")
    candidates = [
        (hamming(value, from_signed(stored)), row_id, article_id)
        for row_id, article_id, stored, *row_bands in rows
        if any(a == b for a, b in zip(bands, row_bands, strict=True))
    ]
    if not candidates:
        return None
    distance, _, article_id = min(candidates)
    return article_id, distance


def save_article(store: Store, i: int, value: int) -> int:
    article_id = store.db.execute(
        """INSERT INTO articles (url, source, title, fetched_at, text, title_key)
           VALUES (?, 's', 't', '2026-01-01T00:00:00+00:00', 'x', ?)""",
        [f"https://s.example/b{i}", f"b{i}"],
    ).lastrowid
    store.neardup.save_fingerprint(article_id, value)
    return article_id


def test_the_band_lookup_finds_what_every_row_compared_finds(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "f.db")
    rng = random.Random(11)
    probes = [rng.getrandbits(64) for _ in range(20)]
    probes[0] |= 1 << 63  # a value stored negative (SQLite's signed INTEGER)
    with store.transaction():
        for i, value in enumerate(v for p in probes for v in band_neighbours(rng, p, 15)):
            save_article(store, i, value)
        twin = probes[1] ^ 0b11  # two articles at distance 2 of probes[1]: the older wins
        first = save_article(store, 1000, twin)
        save_article(store, 1001, probes[1] ^ 0b1100)
    for probe in probes + [rng.getrandbits(64) for _ in range(20)]:
        assert store.neardup._nearest_by_bands(probe) == reference_nearest(store, probe)
    assert store.neardup._nearest_by_bands(probes[1]) == (first, 2)


def test_the_band_lookup_reads_only_the_band_indexes_after_analyze(tmp_path: Path) -> None:
    """No table row per candidate: each band's index answers alone (~15 candidates a band at
    a million fingerprints), with or without ANALYZE's statistics."""
    store = store_with_fingerprints(tmp_path, old=300, recent=10, now=utcnow())
    store.db.execute("ANALYZE")
    (value,) = store.db.execute("SELECT value FROM fingerprints WHERE id = 5").fetchone()
    steps = [
        row[3]
        for row in store.db.execute(
            f"EXPLAIN QUERY PLAN {BAND_CANDIDATES}", split_bands(from_signed(value))
        )
    ]
    searches = [step for step in steps if "fingerprints" in step]
    assert searches == [
        f"SEARCH fingerprints USING COVERING INDEX fingerprints_b{band}_value (b{band}=?)"
        for band in range(4)
    ]
    assert store.neardup._nearest_by_bands(from_signed(value))[1] == 0


def test_the_window_holds_its_rows_values_and_articles(tmp_path: Path) -> None:
    """Read as arrays at once: the same rows, article ids and unsigned values as row by row."""
    now = utcnow()
    store = store_with_fingerprints(tmp_path, old=50, recent=40, now=now)
    with store.transaction():
        for i, value in enumerate((2**64 - 1, 2**63, 0, 1)):  # the edges of the signed range
            save_article(store, 2000 + i, value)
    store.db.execute("UPDATE articles SET fetched_at = ? WHERE url LIKE '%/b2%'", [now.isoformat()])
    window = RecentFingerprints()
    window.refresh(store.db, since=now - neardup.RECENT_WINDOW)
    expected = window_before(store, last_id=0, since=now - neardup.RECENT_WINDOW, limit=5000)
    expected.reverse()
    assert window.row_ids.tolist() == [row[0] for row in expected]
    assert window.article_ids.tolist() == [row[1] for row in expected]
    assert window.values.tolist() == [from_signed(row[2]) for row in expected]
    assert {2**64 - 1, 2**63, 0, 1} <= set(window.values.tolist())
    assert window.last_id == expected[-1][0]


def test_m014_flat_gives_an_older_store_the_band_indexes(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    store = Store.open(path)
    with store.transaction():  # back to the band indexes before m014_flat
        for band in range(4):
            store.db.execute(f"DROP INDEX fingerprints_b{band}_value")
            store.db.execute(f"CREATE INDEX fingerprints_b{band} ON fingerprints(b{band})")
        store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm014_flat'")
        article_id = save_article(store, 1, 0xDEAD_BEEF_0000_0001)
    store.close()
    assert MIGRATIONS.pending(Database(path)) != []
    store = Store.open(path)
    indexes = {row[0] for row in store.db.execute("SELECT name FROM sqlite_master")}
    assert {f"fingerprints_b{band}_value" for band in range(4)} <= indexes
    assert not {f"fingerprints_b{band}" for band in range(4)} & indexes
    assert store.neardup._nearest_by_bands(0xDEAD_BEEF_0000_0003) == (article_id, 1)
    store.close()
