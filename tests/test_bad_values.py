"""Bad values get one clear line and exit 2, never a traceback; surprising results say what
happened (issue 9, points 9, 13, 14 and 15)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.config import load_seeds
from crawler.query import lowercase_operators
from crawler.report import EVENTS, format_summary
from tests.helpers import TESTS

SEEDS = TESTS.parent / "seeds"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("every", "problem"),
    [
        ("99999999999999999999d", "'99999999999999999999d' is longer than 1000 years"),
        ("73000d", "must be at most 100 years (36500d)"),  # its backoff would leave the calendar
    ],
)
def test_a_huge_every_names_the_file_and_key(tmp_path: Path, every: str, problem: str) -> None:
    seeds = shutil.copytree(SEEDS, tmp_path / "seeds")
    path = seeds / "sources.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('every = "15m"', f'every = "{every}"', 1), "utf-8")
    for command in ("crawl", "daemon"):
        code, output = invoke(command, "--seeds", str(seeds), "--db", str(tmp_path / "f.db"))
        assert code == 2
        assert f"{path}: [[source]]" in output
        assert f"key 'every': {problem}" in output


def test_bad_export_values(crawled: Path, tmp_path: Path) -> None:
    db = ("--db", str(crawled))
    code, output = invoke("export", *db, "--since", "99999999999999999999d")
    assert code == 2 and "--since: '99999999999999999999d' is longer than 1000 years" in output
    code, output = invoke("export", *db, "-o", str(tmp_path / "missing" / "dir" / "out.csv"))
    assert code == 2 and f"directory {tmp_path / 'missing' / 'dir'} does not exist" in output
    code, output = invoke("export", *db, "-o", str(tmp_path / "x.html"))
    assert code == 2 and "cannot tell the format of" in output and "--format" in output
    assert not (tmp_path / "x.html").exists()
    code, _ = invoke("export", *db, "-o", str(tmp_path / "x.html"), "--format", "md")
    assert code == 0 and (tmp_path / "x.html").read_text(encoding="utf-8").startswith("# followup")


def test_demo_into_a_missing_directory(tmp_path: Path) -> None:
    code, output = invoke("demo", "--db", str(tmp_path / "missing" / "d.db"))
    assert code == 2 and "directory" in output and "does not exist" in output


def test_search_takes_terms_quoted_or_not(crawled: Path) -> None:
    separate = CliRunner().invoke(cli, ["search", "微信", "支付", "--db", str(crawled)])
    quoted = CliRunner().invoke(cli, ["search", "微信 支付", "--db", str(crawled)])
    joined = CliRunner().invoke(cli, ["search", "微信支付", "--db", str(crawled)])
    assert separate.exit_code == quoted.exit_code == joined.exit_code == 0
    assert separate.output == quoted.output and "[微信]" in separate.output
    assert "[微信支付]" in joined.output


def test_search_says_or_is_a_word(crawled: Path) -> None:
    result = CliRunner().invoke(cli, ["search", "淘宝", "OR", "京东", "--db", str(crawled)])
    assert result.exit_code == 0
    assert "note: OR is searched as a word (every term must occur)" in result.output


def test_a_seeds_row_with_a_failed_page_is_not_ok() -> None:
    figures = dict.fromkeys(EVENTS, 0)
    summary = {
        "news": {**figures, "lists_read": 1, "entries": 2, "new": 1, "failed": 1},
        "seeds": {**figures, "failed": 1},
        "other": {**figures, "lists_read": 1, "entries": 2, "items_skipped": 1, "new": 1},
    }
    lines = format_summary(summary).splitlines()
    assert lines[1].endswith("1 page(s) failed")
    assert lines[2].endswith("FAILED")
    assert lines[3].endswith("1 item(s) skipped")


def test_lower_case_operators_in_a_topic_query_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert lowercase_operators('阿里 or 腾讯 And "not" NOT 京东') == ["or", "And"]
    seeds = shutil.copytree(SEEDS, tmp_path / "seeds")
    (seeds / "topics.toml").write_text(
        '[[topic]]\nid = "t"\nquery = "阿里 or 腾讯"\n', encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING, logger="crawler.config"):
        load_seeds(seeds)
    assert caplog.messages == [
        f"{seeds / 'topics.toml'}: [[topic]] #1 (id 't'): key 'query': 'or' is searched as a "
        'word, not an operator; write OR for the operator, or "or" (quoted) to search the word'
    ]


def settings(tmp_path: Path) -> list[str]:
    return [
        "-s",
        f"FOLLOWUP_SEEDS={tmp_path / 'nowhere'}",
        "-s",
        f"FOLLOWUP_DB={tmp_path / 'f.db'}",
    ]


def test_scrapy_crawl_with_bad_seeds_says_how_to_pass_them(tmp_path: Path) -> None:
    scrapy = Path(sys.executable).with_name("scrapy")
    result = subprocess.run(
        [str(scrapy), "crawl", "followup", *settings(tmp_path)],
        cwd=TESTS.parent,  # the project root, where scrapy.cfg is
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert f"{tmp_path / 'nowhere' / 'sources.toml'} not found" in errors[0]
    assert "-s FOLLOWUP_SEEDS=DIR -s FOLLOWUP_DB=FILE" in errors[0]
