"""The `followup` command."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from sqlite_utils import Database

from crawler import __version__
from crawler.config import ConfigError, Seeds, load_seeds
from crawler.coverage import format_coverage, iter_coverage
from crawler.report import all_failed, format_summary
from crawler.store import Store, StoreError

seeds_option = click.option(
    "--seeds",
    "seeds_dir",
    envvar="FOLLOWUP_SEEDS",
    default="seeds",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory holding sources.toml and topics.toml (env FOLLOWUP_SEEDS).",
)
db_option = click.option(
    "--db",
    "db_path",
    envvar="FOLLOWUP_DB",
    default="followup.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite database file (env FOLLOWUP_DB).",
)


class BadInput(click.ClickException):
    """A bad seeds file, database or argument: exit status 2, like a usage error."""

    exit_code = 2


@click.group()
@click.version_option(__version__, prog_name="followup")
def cli() -> None:
    """Follow a news story: poll sources, keep new related articles, fold reposts into sightings."""


@cli.command()
@seeds_option
@db_option
@click.option("--source", "sources", multiple=True, help="Only this source id (repeatable).")
@click.option("--topic", "topics", multiple=True, help="Only this topic id (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option(
    "-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Set a Scrapy setting."
)
@click.option("-v", "--verbose", is_flag=True, help="Log Scrapy's progress (LOG_LEVEL=INFO).")
def crawl(
    seeds_dir: str,
    db_path: str,
    sources: tuple[str, ...],
    topics: tuple[str, ...],
    as_json: bool,
    overrides: tuple[str, ...],
    verbose: bool,
) -> None:
    """Crawl every source once; store new related articles, record reposts as duplicates.

    Exit status: 0 when the crawl ran (failed sources are reported), 1 when every source
    failed, 2 for a bad seeds file or argument.
    """
    seeds = load_checked_seeds(seeds_dir, sources=sources, topics=topics)
    settings = {"LOG_LEVEL": "INFO" if verbose else "WARNING", **parse_overrides(overrides)}
    summary = run_checked_crawl(seeds, db_path, settings)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(format_summary(summary["sources"]), err=True)
    if all_failed(summary["sources"], [s.id for s in seeds.sources]):
        raise SystemExit(1)


@cli.command()
@click.option(
    "--db",
    "db_path",
    default="demo.db",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Database to create (an earlier demo's is replaced).",
)
def demo(db_path: Path) -> None:
    """Crawl recorded copies of the five sources, served on 127.0.0.1: no internet needed.

    Prints the crawl summary (stderr) and the stored articles with their sightings on
    other sites (stdout).
    """
    from crawler.demo import DemoError, run_demo

    try:
        summary = run_demo(db_path)
    except DemoError as exc:
        raise BadInput(str(exc)) from None
    click.echo(format_summary(summary["sources"]), err=True)
    click.echo(f"\nStored in {db_path}:\n", err=True)
    click.echo(format_coverage(list(iter_coverage(Database(db_path)))))


def load_checked_seeds(
    seeds_dir: str, *, sources: Sequence[str] = (), topics: Sequence[str] = ()
) -> Seeds:
    """The seeds directory, validated, or a clear error (exit 2)."""
    try:
        return load_seeds(seeds_dir).select(sources=sources, topics=topics)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None


def run_checked_crawl(seeds: Seeds, db_path: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Run one crawl in this process and return {run_id, sources: per-source figures}."""
    from crawler.runner import run_crawl  # Scrapy is imported only when a crawl runs

    try:
        Store.open(db_path).close()
    except StoreError as exc:
        raise BadInput(str(exc)) from None
    result = run_crawl(seeds, db_path, settings=settings)
    return {"run_id": result.run_id, "sources": result.summary}


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """-s NAME=VALUE pairs as a settings dict."""
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="-s")
        settings[name.strip()] = value
    return settings


def main() -> None:
    """Console entry point."""
    cli(prog_name="followup")
