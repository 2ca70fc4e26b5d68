"""The followup command: exit statuses, messages, output streams; `scrapy crawl followup` too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from sqlite_utils import Database

from crawler.cli import cli
from crawler.mirror import Mirror
from tests.helpers import FAST_SETTINGS, WAIT_CEILING, run_followup, setting_args, write_seeds

ONE_SOURCE = """
[[source]]
id = "news"
site = "generic"
feeds = ["{https://news.example.com/feed.xml}"]
"""
FAILING_SOURCES = """
[[source]]
id = "broken"
site = "generic"
feeds = ["{https://broken.example.com/feed}"]

[[source]]
id = "gone"
site = "generic"
feeds = ["{https://news.example.com/no-such-feed.xml}"]
"""
PROJECT = Path(__file__).parents[1]


def test_bad_seeds_exit_2_naming_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(
        '[[source]]\nid = "x"\nsite = "nosuch"\nfeeds = ["https://a.example/f"]\n'
    )
    (tmp_path / "topics.toml").write_text('[[topic]]\nid = "t"\nquery = "a"\n')
    result = CliRunner().invoke(
        cli, ["crawl", "--seeds", str(tmp_path), "--db", str(tmp_path / "f.db")]
    )
    assert result.exit_code == 2
    assert (
        f"{tmp_path / 'sources.toml'}: [[source]] #1 (id 'x'): key 'site': unknown site"
        in result.output
    )
    assert not (tmp_path / "f.db").exists()


def test_bad_database_and_bad_setting_exit_2(tmp_path: Path, web: Mirror) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, ONE_SOURCE)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["crawl", "--seeds", str(seeds), "--db", str(tmp_path / "no" / "f.db")]
    )
    assert result.exit_code == 2 and "directory" in result.output
    result = runner.invoke(cli, ["crawl", "--seeds", str(seeds), "-s", "LOG_LEVEL"])
    assert result.exit_code == 2 and "'LOG_LEVEL' is not NAME=VALUE" in result.output
    result = runner.invoke(cli, ["crawl", "--seeds", str(seeds), "--source", "nope"])
    assert result.exit_code == 2 and "no source with id 'nope'; known: news" in result.output


def test_environment_names_seeds_and_database(tmp_path: Path, web: Mirror) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, ONE_SOURCE)
    env = {"FOLLOWUP_SEEDS": str(seeds), "FOLLOWUP_DB": str(tmp_path / "env.db")}
    result = run_followup("crawl", *setting_args(), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the summary is a message: stderr
    assert "source" in result.stderr and "news" in result.stderr
    assert Database(tmp_path / "env.db")["articles"].count == 3  # 2 related + the topic seed


def test_every_source_failing_exits_1(tmp_path: Path, web: Mirror) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, FAILING_SOURCES, topics=_topic_without_seeds())
    result = run_followup(
        "crawl", "--seeds", str(seeds), "--db", str(tmp_path / "f.db"), "--json", *setting_args()
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)["sources"]
    assert report["broken"]["lists_failed"] == 1 and report["gone"]["lists_failed"] == 1
    assert "HTTP 500" in result.stderr and "HTTP 404" in result.stderr


def test_python_dash_m_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=WAIT_CEILING,
    )
    assert result.stdout.startswith("followup, version ")


def test_scrapy_crawl_followup_from_the_project_root(tmp_path: Path, web: Mirror) -> None:
    seeds = write_seeds(tmp_path / "seeds", web, ONE_SOURCE)
    settings = {
        **FAST_SETTINGS,
        "FOLLOWUP_SEEDS": str(seeds),
        "FOLLOWUP_DB": str(tmp_path / "s.db"),
    }
    scrapy = Path(sys.executable).with_name("scrapy")
    result = subprocess.run(
        [str(scrapy), "crawl", "followup", "-a", "source=news", *setting_args(settings)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=WAIT_CEILING,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    db = Database(tmp_path / "s.db")
    assert db["articles"].count == 3
    (run,) = db.query("SELECT * FROM crawl_runs")
    assert json.loads(run["stats"])["sources"]["news"]["new"] == 2


def _topic_without_seeds() -> str:
    return '[[topic]]\nid = "t"\nquery = "淘宝 微信"\n'
