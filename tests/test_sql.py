"""`followup query`: SELECT in three formats; every kind of write refused, the file untouched."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.tables import clip, display_width, format_table
from tests.helpers import run_followup

COUNT_BY_SOURCE = "SELECT source, count(*) AS n FROM articles GROUP BY source ORDER BY source"
SCHEMA = "changing the schema (CREATE, DROP, ALTER…)"
SOURCES = [("daily", 1), ("listed", 1), ("news", 3), ("seeds", 1)]


def query(db: Path, sql: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["query", sql, "--db", str(db), *args])
    return result.exit_code, result.output


def fingerprint(directory: Path) -> dict[str, str]:
    """Every file in the directory but SQLite's own -wal/-shm, by content hash."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if not p.name.endswith(("-wal", "-shm"))
    }


def test_select_as_a_table_from_the_installed_command(crawled: Path) -> None:
    result = run_followup("query", COUNT_BY_SOURCE, "--db", str(crawled))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["source", "n"] and set(lines[1]) <= {"-", " "}
    assert [tuple(line.split()) for line in lines[2:]] == [(s, str(n)) for s, n in SOURCES]


def test_select_as_csv_and_json(crawled: Path) -> None:
    code, output = query(crawled, COUNT_BY_SOURCE, "--format", "csv")
    assert code == 0, output
    rows = list(csv.DictReader(io.StringIO(output)))
    assert [(r["source"], int(r["n"])) for r in rows] == SOURCES
    code, output = query(crawled, COUNT_BY_SOURCE, "--format", "json")
    assert code == 0, output
    assert json.loads(output) == [{"source": s, "n": n} for s, n in SOURCES]
    code, output = query(crawled, "SELECT 1 AS a, 2 AS a, NULL AS b", "--format", "json")
    assert json.loads(output) == [{"a": 1, "a_2": 2, "b": None}]


def test_read_only_pragmas_and_full_text_search_work(crawled: Path) -> None:
    code, output = query(
        crawled, "SELECT name FROM pragma_table_info('articles')", "--format", "json"
    )
    assert code == 0, output
    assert {"url", "title", "baseline"} <= {r["name"] for r in json.loads(output)}
    code, output = query(
        crawled,
        "SELECT count(*) AS n FROM articles_search WHERE articles_search MATCH followup_match('微信支付')",
        "--format",
        "json",
    )
    assert code == 0, output
    assert json.loads(output) == [{"n": 4}]


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        (
            "INSERT INTO seen (url, source, status, first_seen, last_seen) "
            "VALUES ('u', 's', 'stored', 'x', 'x')",
            "INSERT",
        ),
        ("UPDATE articles SET title = 'x'", "UPDATE"),
        ("DELETE FROM articles", "DELETE"),
        ("DROP TABLE articles", SCHEMA),
        ("CREATE TABLE notes (x)", SCHEMA),
        ("CREATE TEMP TABLE notes (x)", SCHEMA),
        ("ALTER TABLE articles ADD COLUMN x", "ALTER TABLE"),
        ("ATTACH 'other.db' AS other", "ATTACH"),
        ("VACUUM INTO 'copy.db'", "VACUUM"),  # named as written, not as the ATTACH it makes
        ("WITH doomed AS (SELECT id FROM articles) DELETE FROM articles", "DELETE"),
        ("REPLACE INTO crawl_runs (id, started_at, sources) VALUES (1, 'x', '[]')", "INSERT"),
        ("PRAGMA user_version = 7", "PRAGMA user_version"),
        ("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode"),
        ("PRAGMA query_only = 0", "PRAGMA query_only"),
        ("PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA wal_checkpoint"),
        ("BEGIN IMMEDIATE", "TRANSACTION"),
        ("REINDEX", "REINDEX"),
        ("ANALYZE", SCHEMA),  # it would create sqlite_stat1
        ("INSERT INTO articles_search (articles_search) VALUES ('delete-all')", "INSERT"),
    ],
)
def test_writes_are_refused_and_the_file_stays_byte_identical(
    crawled_copy: Path, sql: str, refused: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(crawled_copy.parent)  # where ATTACH / VACUUM INTO would create files
    before = fingerprint(crawled_copy.parent)
    code, output = query(crawled_copy, sql)
    assert code == 2
    assert f"followup query only reads: {refused} is refused and nothing was changed" in output
    assert fingerprint(crawled_copy.parent) == before


def test_a_second_statement_is_refused_too(crawled_copy: Path) -> None:
    before = fingerprint(crawled_copy.parent)
    for sql in ("SELECT 1; DELETE FROM articles", "SELECT 1; ATTACH 'x.db' AS x"):
        result = CliRunner().invoke(cli, ["query", sql, "--db", str(crawled_copy)])
        assert result.exit_code == 2
        assert "followup query runs one statement" in result.stderr and result.stdout == ""
    assert fingerprint(crawled_copy.parent) == before


def test_bad_sql_and_a_missing_database_are_clear_errors(crawled: Path, tmp_path: Path) -> None:
    code, output = query(crawled, "SELEC 1")
    assert code == 2 and 'SQLite could not run it: near "SELEC": syntax error' in output
    code, output = query(crawled, "SELECT nope FROM articles")
    assert code == 2 and "no such column: nope" in output
    code, output = query(tmp_path / "none.db", "SELECT 1")
    assert code == 2 and "no database at" in output
    assert not (tmp_path / "none.db").exists()
    (tmp_path / "notes.db").write_text("not a database " * 200)
    code, output = query(tmp_path / "notes.db", "SELECT 1")
    assert code == 2 and "cannot read" in output


def test_tables_align_chinese_by_display_width() -> None:
    table = format_table(["title", "n"], [["微信支付", "1"], ["ab", "22"]], rule=True)
    header, rule, first, second = table.splitlines()
    assert header.startswith("title     n") and rule == "--------  --"
    # The second column starts at the same display column on every line.
    assert display_width(first[: first.index("1")]) == display_width(second[: second.index("22")])
    assert display_width(first[: first.index("1")]) == header.index("n") == 10
    assert clip("淘宝" * 40, 10) == "淘宝淘宝…" and display_width(clip("淘宝" * 40, 10)) <= 10
    assert clip("两行\n文字") == "两行 文字"
