"""The README's PostgreSQL section, run against the tests' real server: its setup SQL, the
crawl it shows (FOLLOWUP_DB), the query output it prints, and its SELECT-only role."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.cli import cli
from crawler.mirror import Mirror
from tests.helpers import HEALTHY_SOURCES, WAIT_CEILING, run_followup, setting_args, write_seeds
from tests.notify_receivers import readme_section
from tests.services import SUPERUSER, PostgresServer, postgres, postgres_bindir  # noqa: F401

SECTION = "## A shared PostgreSQL store"
psycopg = pytest.importorskip("psycopg", reason="psycopg is in the [postgres] extra")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", readme_section(SECTION), re.S)


def psql(server: PostgresServer, sql: str, *, database: str = "postgres") -> None:
    """SQL run by psql as the README runs it (ON_ERROR_STOP), as the server's superuser."""
    command = [str(postgres_bindir() / "psql"), "-v", "ON_ERROR_STOP=1", "-X", "-q"]
    command += ["-h", "127.0.0.1", "-p", str(server.port), "-U", SUPERUSER, "-d", database]
    done = subprocess.run(
        command, input=sql, capture_output=True, text=True, timeout=WAIT_CEILING, check=False
    )
    assert done.returncode == 0, done.stderr


def on_server(url: str, server: PostgresServer) -> str:
    return url.replace("127.0.0.1:5432", f"127.0.0.1:{server.port}")


def test_the_readme_setup_crawl_query_and_reader_role(
    tmp_path: Path,
    web: Mirror,
    postgres: PostgresServer,  # noqa: F811
) -> None:
    (setup,) = blocks("sh")
    assert 'pip install "followup-crawler[postgres]"' in setup
    (sql,) = re.findall(r"<<'SQL'\n(.*?)\nSQL\n", setup, re.S)
    psql(postgres, sql)
    (url,) = re.findall(r"export FOLLOWUP_DB=(\S+)", setup)
    url = on_server(url, postgres)
    assert "followup crawl --seeds seeds " in setup
    seeds = write_seeds(tmp_path / "seeds", web, HEALTHY_SOURCES)
    crawled = run_followup(
        "crawl", "--seeds", str(seeds), *setting_args(), env={"FOLLOWUP_DB": url}
    )
    assert crawled.returncode == 0, crawled.stderr[-2000:]

    (shown,) = re.findall(
        r'```\n\$ followup query "(.*?)"\n(.*?)```', readme_section(SECTION), re.S
    )
    printed = CliRunner().invoke(cli, ["query", shown[0]], env={"FOLLOWUP_DB": url})
    assert (printed.exit_code, printed.stdout) == (0, shown[1])

    (reader_sql,) = blocks("sql")
    psql(postgres, reader_sql, database="followup")
    reader = on_server(
        re.findall(r"--db (postgresql://reader:[^\s`]+)", readme_section(SECTION))[0], postgres
    )
    as_reader = CliRunner().invoke(cli, ["query", shown[0], "--db", reader])
    assert (as_reader.exit_code, as_reader.stdout) == (0, shown[1]), as_reader.output
    # The role cannot write even outside followup's read-only session.
    with psycopg.connect(reader, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM articles")
    exported = CliRunner().invoke(cli, ["export", "--db", reader, "--format", "ndjson"])
    assert exported.exit_code == 0 and exported.stdout.count("\n") == 5
