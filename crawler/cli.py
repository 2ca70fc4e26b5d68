"""The `followup` command."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlite_utils import Database

from crawler import __version__
from crawler.config import ConfigError, Seeds, load_seeds
from crawler.coverage import (
    Selection,
    format_coverage,
    get_sources,
    get_topics,
    iter_coverage,
)
from crawler.dates import parse_duration, parse_when, utcnow
from crawler.export import FORMATS, SUFFIXES, ExportError, Format, format_for, iter_render
from crawler.health import CODES as HEALTH_CODES
from crawler.notify.targets import NOTIFY_FILE, Target, load_targets
from crawler.postgres import is_postgres_url
from crawler.report import all_failed, format_summary
from crawler.search import format_hits, operator_words, search_articles
from crawler.sql import FORMATS as QUERY_FORMATS
from crawler.sql import QueryError, QueryStopped, format_result, open_query
from crawler.store import (
    ForeignDatabase,
    Store,
    StoreError,
    check_followup_database,
    describe_store_error,
    open_readonly,
    open_store,
)

if TYPE_CHECKING:
    from crawler.runner import CrawlResult  # Scrapy is imported only when a crawl runs

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
    help="SQLite database file, or a postgresql:// URL (env FOLLOWUP_DB).",
)


def scrapy_options(command: Any) -> Any:
    """-s NAME=VALUE (a Scrapy setting, repeatable) and -v (Scrapy's progress in the log)."""
    command = click.option(
        "-v", "--verbose", is_flag=True, help="Log Scrapy's progress (LOG_LEVEL=INFO)."
    )(command)
    return click.option(
        "-s",
        "--set",
        "overrides",
        multiple=True,
        metavar="NAME=VALUE",
        help="Set a Scrapy setting.",
    )(command)


def scrapy_settings(overrides: Sequence[str], *, verbose: bool) -> dict[str, Any]:
    """The settings of a crawl or check run from the command line: log level, then -s."""
    return {"LOG_LEVEL": "INFO" if verbose else "WARNING", **parse_overrides(overrides)}


class BadInput(click.ClickException):
    """A bad seeds file, database or argument: exit status 2, like a usage error."""

    exit_code = 2


class Duration(click.ParamType):
    """A duration option: 90s, 15m, 2h, 1d, 1h30m."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def duration_option(name: str, default: str, help_text: str) -> Any:
    """A --NAME DURATION option (90s, 15m, 2h…) with its default shown."""
    return click.option(name, type=Duration(), default=default, show_default=True, help=help_text)


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
@scrapy_options
@duration_option(
    "--timeout", "20m", "Stop the crawl when it runs longer than this (it then exits 1)."
)
@click.option(
    "--no-notify",
    is_flag=True,
    help="Queue notifications (notify.toml) but leave sending to another process.",
)
# The daemon's child crawls (--workers 0): hold each source's lock (crawler/locks.py) while
# crawling; exit 75 (BUSY_EXIT) without crawling when another process holds one.
@click.option("--hold-locks", is_flag=True, hidden=True)
def crawl(
    seeds_dir: str,
    db_path: str,
    sources: tuple[str, ...],
    topics: tuple[str, ...],
    as_json: bool,
    overrides: tuple[str, ...],
    verbose: bool,
    timeout: timedelta,
    no_notify: bool,
    hold_locks: bool,
) -> None:
    """Crawl every source once; store new related articles, record reposts as duplicates.

    Exit status: 0 when the crawl ran (failed sources are reported), 1 when every source
    failed, the database failed (disk full, damaged file) or --timeout ended the crawl, 2 for
    a bad seeds file, database or argument. Afterwards the notifications due (seeds
    notify.toml) are sent, unless --no-notify or the database failed.
    """
    seeds = load_checked_seeds(seeds_dir, sources=sources, topics=topics)
    targets = () if no_notify else load_checked_targets(seeds_dir, check_urls=True)
    settings = {
        "CLOSESPIDER_TIMEOUT": timeout.total_seconds(),
        **scrapy_settings(overrides, verbose=verbose),
    }
    with source_locks(db_path, [s.id for s in seeds.sources] if hold_locks else []):
        result = run_checked_crawl(seeds, db_path, settings)
    summary = {"run_id": result.run_id, "sources": result.summary, "error": result.error}
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(format_summary(result.summary), err=True)
    if targets and not result.store_failed:  # a database that failed cannot record sending
        send_notifications(db_path, targets)
    if result.error:
        click.echo(f"error: {result.error}", err=True)
        raise SystemExit(1)
    if all_failed(result.summary, [s.id for s in seeds.sources]):
        raise SystemExit(1)


@cli.command("check-sites")
@seeds_option
@click.option("--source", "sources", multiple=True, help="Only this source id (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON on stdout.")
@scrapy_options
def check_sites(
    seeds_dir: str,
    sources: tuple[str, ...],
    as_json: bool,
    overrides: tuple[str, ...],
    verbose: bool,
) -> None:
    """Fetch each source's feeds and lists and its newest pages live; read them with the site
    module alone (no generic fallback) and say which fields came out. Stores nothing.

    Run it after an upgrade, or when `followup status` shows `fallback`. Exit status 1 when a
    source's module read none of its pages (broken), every page was a verification page
    (blocked), or no page could be reached (unreadable); 2 for a bad seeds file or argument.
    """
    from crawler.checks import checks_json, format_checks
    from crawler.runner import run_checks  # Scrapy is imported only when a check runs

    seeds = load_checked_seeds(seeds_dir, sources=sources)
    settings = scrapy_settings(overrides, verbose=verbose)
    checks = run_checks(seeds, settings=settings)
    click.echo(checks_json(checks) if as_json else format_checks(checks))
    if any(check.verdict != "ok" for check in checks):
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


@cli.command()
@db_option
@click.option("--topic", help="Only articles filed under this topic (required for atom).")
@click.option("--source", help="Only articles from this source id ('seeds': topic seeds).")
@click.option("--since", metavar="WHEN", help="Published at or after WHEN: 2026-11-20, 7d…")
@click.option("--until", metavar="WHEN", help="Published before WHEN (a bare date: its end).")
@click.option(
    "--baseline/--no-baseline",
    default=True,
    show_default=True,
    help="Include topic seeds (known coverage), marked as such.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format [default: from -o's suffix, else md].",
)
@click.option("--bom", is_flag=True, help="Start the CSV with a UTF-8 byte-order mark (Excel).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to FILE (replaced whole, never half-written) instead of stdout.",
)
def export(
    db_path: str,
    topic: str | None,
    source: str | None,
    since: str | None,
    until: str | None,
    baseline: bool,
    fmt: Format | None,
    bom: bool,
    output: str | None,
) -> None:
    """Export stored articles with their topics and sightings: csv, json, ndjson, atom or md.

    WHEN is a duration back from now (7d, 12h), a date (2026-11-20) or a date and time
    ('2026-11-20 08:00'); a time without an offset is Beijing time, add Z for UTC.
    JSON and NDJSON fields are listed in README.md.
    """
    now = utcnow()
    fmt = fmt or output_format(output)  # before any reading: a bad -o fails at once
    selection = Selection(
        topic=topic,
        source=source,
        since=when_option(since, "--since", now=now),
        until=when_option(until, "--until", now=now, end_of_day=True),
        include_baseline=baseline,
    )
    db = open_checked(db_path)
    with reading(db_path):
        check_known(topic, get_topics(db), "topic", db_path)
        check_known(source, get_sources(db), "source", db_path)
        try:
            pieces = iter_render(
                lambda: iter_coverage(db, selection=selection), fmt, topic=topic, bom=bom, now=now
            )
        except ExportError as exc:
            raise BadInput(str(exc)) from None
        with db.atomic():  # Atom and Markdown read twice or more: all from one snapshot
            write_output(pieces, output)  # streamed: a batch of articles in memory at a time
    db.close()


@cli.command()
@click.argument("sql")
@db_option
@click.option(
    "--format", "fmt", type=click.Choice(QUERY_FORMATS), default="table", show_default=True
)
@duration_option(
    "--timeout", "1m", "Stop a query running longer than this (exit 1); Ctrl-C stops it too."
)
def query(sql: str, db_path: str, fmt: str, timeout: timedelta) -> None:
    """Run one SQL statement on a read-only connection: SELECT works, writes are refused.

    Rows are printed as they come. Example:
    followup query "SELECT source, count(*) FROM articles GROUP BY source"
    """
    try:
        with reading(db_path), open_query(db_path, sql, timeout=timeout.total_seconds()) as result:
            for chunk in in_chunks(format_result(result, fmt)):
                click.echo(chunk, nl=False)
    except (QueryError, StoreError) as exc:
        raise BadInput(str(exc)) from None
    except QueryStopped as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.argument("words", nargs=-1, required=True)
@db_option
@click.option("--topic", help="Only articles filed under this topic.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def search(words: tuple[str, ...], db_path: str, topic: str | None, limit: int) -> None:
    """Full-text search of titles and texts; every term must occur. Title hits come first.

    Terms are separated by spaces, quoted or not (`微信 支付` or "微信 支付"). Terms of two
    characters or more (阿里, 微信支付) use the search index; a one-character term makes the
    search a LIKE scan. OR, AND and NOT are words here, not operators.
    """
    terms = " ".join(words)
    db = open_checked(db_path)
    try:
        with reading(db_path):
            check_known(topic, get_topics(db), "topic", db_path)
            result = search_articles(db, terms, topic=topic, limit=limit)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    finally:
        db.close()
    if result.note:
        click.echo(f"note: {result.note}; searching with LIKE instead", err=True)
    if not result.hits:
        click.echo(f"no article matches {terms!r}", err=True)
    for word in operator_words(terms):
        click.echo(
            f"note: {word} is searched as a word (every term must occur); for either of two "
            "terms, search each on its own",
            err=True,
        )
    write_output(format_hits(result.hits), None)


def output_format(output: str | None) -> Format:
    """The format -o's suffix names; md without -o or a suffix; an unknown suffix is refused
    rather than written as Markdown under a name that says otherwise."""
    named = format_for(output)
    if named is not None or output is None or not Path(output).suffix:
        return named or "md"
    raise BadInput(
        f"cannot tell the format of {output} from its suffix: pass --format "
        f"({', '.join(FORMATS)}) or name it with one of {', '.join(SUFFIXES)}"
    )


def in_chunks(pieces: Iterable[str], *, size: int = 1 << 16) -> Iterator[str]:
    """Pieces of output joined into chunks of about size characters: one write per chunk,
    not per row, and still no more than a chunk held."""
    held: list[str] = []
    length = 0
    for piece in pieces:
        held.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(held)
            held, length = [], 0
    if held:
        yield "".join(held)


@contextmanager
def reading(db_path: str) -> Iterator[None]:
    """A database that fails while read (a damaged file): one line saying what to do, exit 1."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise click.ClickException(describe_store_error(db_path, exc)) from None


def open_checked(db_path: str) -> Database:
    """The database opened read-only, or a clear error (exit 2)."""
    try:
        return open_readonly(db_path)
    except StoreError as exc:
        raise BadInput(str(exc)) from None


@cli.command()
@seeds_option
@db_option
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the log to this file instead of stderr (reopened when rotated).",
)
@duration_option(
    "--timeout",
    "20m",
    "End a crawl running longer than this (asked to stop, then SIGKILL after --grace).",
)
@duration_option(
    "--grace", "45s", "How long a crawl may take to stop once asked to (Scrapy's graceful close)."
)
@duration_option(
    "--prune-after",
    "90d",
    "Forget URLs not stored (unrelated, blocked, failed) last seen this long ago, and crawl "
    "runs started this long ago (never those of the last 30 days, nor a source's last run).",
)
@click.option(
    "--max-crawls",
    type=click.IntRange(min=1),
    help="Crawls running at once, at most [default: 2 per CPU core].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="Worker processes that run the crawls [default: 1 per CPU core]; "
    "0 runs each crawl as a child process of its own.",
)
@click.option(
    "--recycle-after",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Replace a worker after this many crawls.",
)
@click.option(
    "--recycle-above",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    metavar="MB",
    help="Replace a worker whose memory (RSS) exceeds this after a crawl.",
)
@click.option(
    "-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Set a Scrapy setting."
)
@click.option("-v", "--verbose", is_flag=True, help="Log every crawl's own messages too.")
def daemon(
    seeds_dir: str,
    db_path: str,
    log_file: Path | None,
    timeout: timedelta,
    grace: timedelta,
    prune_after: timedelta,
    max_crawls: int | None,
    workers: int | None,
    recycle_after: int,
    recycle_above: int,
    overrides: tuple[str, ...],
    verbose: bool,
) -> None:
    """Poll every source on its own schedule until stopped (SIGTERM or Ctrl-C).

    Each source is crawled every `every` of sources.toml, adapted between its min_every and
    max_every, backing off while it fails. Crawls run in long-lived worker processes
    (one Scrapy process runs many crawls), at most --max-crawls at once; a source with a crawl
    node (nodes.toml) is a Scrapyd job on that node, not counted in --max-crawls. With
    --db postgresql://…, daemons on several machines may share the store: a source is crawled
    by one of them at a time (advisory locks in the database).
    Exit status 0 after a clean stop, 2 for a bad seeds file or argument, or when another
    daemon already polls the database.
    """
    from crawler.daemon import (
        DaemonError,
        DaemonOptions,
        configure_logging,
        default_max_crawls,
        default_workers,
        run_daemon,
    )

    seeds = load_checked_seeds(seeds_dir)
    targets = load_checked_targets(seeds_dir, check_urls=True)
    parse_overrides(overrides)
    _check_database(db_path).close()
    crawl_args = [arg for pair in overrides for arg in ("-s", pair)] + (["-v"] if verbose else [])
    # Each crawl stops itself at the daemon's timeout (what `crawl --timeout` sets, and a worker
    # takes it the same way); the daemon's stop request and SIGKILL are the backstop.
    crawl_args += ["-s", f"CLOSESPIDER_TIMEOUT={timeout.total_seconds():g}"]
    options = DaemonOptions(
        seeds_dir=Path(seeds_dir).resolve(),
        db_path=db_path if is_postgres_url(db_path) else Path(db_path).resolve(),
        timeout=timeout,
        grace=grace,
        prune_after=prune_after,
        crawl_args=tuple(crawl_args),
        notify=targets,
        max_crawls=max_crawls or default_max_crawls(),
        workers=default_workers() if workers is None else workers,
        recycle_after=recycle_after,
        recycle_above_mb=recycle_above,
    )
    configure_logging(log_file=log_file, verbose=verbose)
    try:
        run_daemon(seeds, options)
    except DaemonError as exc:
        raise BadInput(str(exc)) from None


@cli.command(hidden=True)
@seeds_option
@db_option
@scrapy_options
def worker(seeds_dir: str, db_path: str, overrides: tuple[str, ...], verbose: bool) -> None:
    """Crawl the sources `followup daemon` hands over on stdin (crawler/worker.py)."""
    from crawler.worker import run_worker  # Scrapy is imported only when a crawl runs

    seeds = load_checked_seeds(seeds_dir)
    run_worker(seeds, db_path, settings=scrapy_settings(overrides, verbose=verbose))


@cli.command()
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@duration_option(
    "--max-failing",
    "6h",
    "Exit 1 when a source has failed, or not been polled, for longer than this.",
)
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    type=click.Choice(HEALTH_CODES),
    help="A health code that does not make the exit status 1 (repeatable).",
)
def status(db_path: str, as_json: bool, max_failing: timedelta, ignore: tuple[str, ...]) -> None:
    """How each source the daemon polls is doing, its health, and its figures of the last 24 hours.

    Health codes: failing, no_entries, all_blocked, fallback, redirected, dates_missing,
    silent (see README). Exit status 1 when a source has been failing, or overdue, for longer
    than --max-failing, or shows a health code not --ignore'd (for cron or a health check);
    2 when there is no database.
    """
    from crawler.dates import utcnow
    from crawler.notify.listing import format_targets
    from crawler.notify.outbox import get_target_summaries
    from crawler.status import format_health, format_status, get_status, status_json

    if not is_postgres_url(db_path) and not Path(db_path).exists():
        raise BadInput(f"{db_path}: no such database; pass --db, or start `followup daemon`")
    db = open_checked(db_path)  # read-only: status never writes, on a read-only file too
    now = utcnow()
    try:
        with reading(db_path):
            check_followup_database(db, Path(db_path))
            tables = db.table_names()  # older files: no daemon state, no targets yet
            polled = "source_state" in tables
            statuses = get_status(db, now=now, max_failing=max_failing) if polled else []
            targets = get_target_summaries(db) if "notify_targets" in tables else []
    except ForeignDatabase as exc:
        raise BadInput(str(exc)) from None
    finally:
        db.close()
    if as_json:
        click.echo(status_json(statuses))
    elif statuses:
        click.echo(format_status(statuses, now=now))
    else:
        click.echo(f"{db_path}: no source polled by `followup daemon` yet", err=True)
    if targets and not as_json:
        click.echo("\n" + format_targets(targets, now=now))
    for target in targets:
        if target["failed"]:
            click.echo(
                f"notify target {target['target']}: {target['failed']} notification(s) given "
                "up after 6h of retries; `followup notify pending --failed` lists them",
                err=True,
            )
    problems = [
        s.problem
        for s in statuses
        if s.problem and not ("failing" in ignore and any(h.code == "failing" for h in s.health))
    ]
    health = format_health(statuses, ignore=ignore)
    for line in [*problems, *health]:
        click.echo(line, err=True)
    if problems or health:
        raise SystemExit(1)


@cli.command()
@seeds_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the nodes and their jobs as JSON.")
def nodes(seeds_dir: str, db_path: str, as_json: bool) -> None:
    """List the crawl nodes of nodes.toml (Scrapyd servers) and their jobs, each with the run it
    recorded in the database (crawl_runs.job), if any.

    Exit status 1 when a node is down or refuses (its line says why), 2 for a bad nodes.toml.
    """
    from crawler.config import NODES_FILE, load_nodes
    from crawler.nodes import format_node_status, get_node_status, node_status_json

    try:
        known = load_nodes(seeds_dir)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    if not known:
        click.echo(
            f"{Path(seeds_dir) / NODES_FILE}: no crawl nodes; every source is crawled here",
            err=True,
        )
    statuses = [get_node_status(node) for node in known]
    runs = _job_runs(db_path, [job.id for s in statuses for job in s.jobs])
    if as_json:
        shown = [node_status_json(s, runs) for s in statuses]
        click.echo(json.dumps(shown, ensure_ascii=False))
    else:
        for node_status in statuses:
            click.echo("\n".join(format_node_status(node_status, runs)))
    if not all(s.up for s in statuses):
        raise SystemExit(1)


def _job_runs(db_path: str, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The runs these Scrapyd jobs recorded in the database; none without a database."""
    from crawler.nodes import get_job_runs

    if not job_ids or (not is_postgres_url(db_path) and not Path(db_path).exists()):
        return {}
    db = open_checked(db_path)
    try:
        with reading(db_path):
            check_followup_database(db, Path(db_path))
            return get_job_runs(db, job_ids) if "crawl_runs" in db.table_names() else {}
    except ForeignDatabase as exc:
        raise BadInput(str(exc)) from None
    finally:
        db.close()


@cli.group()
def notify() -> None:
    """Notifications (seeds/notify.toml): send a test, list or send what is owed."""


@notify.command("test")
@seeds_option
@click.option("--target", "target_ids", multiple=True, help="Only this target id (repeatable).")
def notify_test(seeds_dir: str, target_ids: tuple[str, ...]) -> None:
    """Send a test message to each target and print the result.

    Exit status 1 when a target did not take it, 2 for a bad notify.toml.
    """
    from crawler.notify.deliver import DeliveryError, send_message
    from crawler.notify.messages import probe_message

    targets = pick_targets(load_checked_targets(seeds_dir, check_urls=True), target_ids, seeds_dir)
    failed = 0
    for target in targets:
        try:
            send_message(target, probe_message(target, now=utcnow()))
        except DeliveryError as exc:
            failed += 1
            click.echo(f"{target.id}  {target.shown}  FAILED: {exc}")
        else:
            click.echo(f"{target.id}  {target.shown}  sent")
    if failed:
        raise SystemExit(1)


@notify.command("pending")
@db_option
@click.option("--failed", is_flag=True, help="List the rows given up on instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def notify_pending(db_path: str, failed: bool, as_json: bool) -> None:
    """List the notifications not delivered yet (or, with --failed, given up on)."""
    from crawler.notify.listing import format_undelivered
    from crawler.notify.outbox import get_undelivered

    db = open_checked(db_path)
    try:
        rows = get_undelivered(db, failed=failed) if "notifications" in db.table_names() else []
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif rows:
        click.echo(format_undelivered(rows))
    else:
        click.echo(f"no {'failed' if failed else 'pending'} notification in {db_path}", err=True)


@notify.command("send")
@seeds_option
@db_option
def notify_send(seeds_dir: str, db_path: str) -> None:
    """Send the notifications due now (what `crawl` and the daemon do after each crawl).

    Exit status 1 when a target did not take its messages (they are retried later).
    """
    targets = load_checked_targets(seeds_dir, check_urls=True)
    pick_targets(targets, (), seeds_dir)
    if not send_notifications(db_path, targets):
        raise SystemExit(1)


def load_checked_targets(seeds_dir: str, *, check_urls: bool = False) -> tuple[Target, ...]:
    """The targets of notify.toml (none without the file), or a clear error (exit 2)."""
    try:
        targets = load_targets(seeds_dir, topics=load_seeds(seeds_dir).topics)
        if targets and check_urls:
            from crawler.notify.deliver import check_targets

            check_targets(targets)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    return targets


def pick_targets(targets: Sequence[Target], ids: Sequence[str], seeds_dir: str) -> list[Target]:
    """The named targets (all by default), or a clear error (exit 2)."""
    path = Path(seeds_dir) / NOTIFY_FILE
    if not targets:
        raise BadInput(f"{path}: no such file; add a [[notify]] entry (see README, Notifications)")
    known = {target.id: target for target in targets}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise BadInput(
            f"{path}: no target with id {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
        )
    return [known[i] for i in ids] if ids else list(targets)


def send_notifications(db_path: str, targets: Sequence[Target]) -> bool:
    """Deliver what is due and say so on stderr; False when a target refused."""
    from crawler.notify.sender import SenderBusy, send_pending

    try:
        result = send_pending(db_path, targets)
    except (SenderBusy, StoreError) as exc:
        click.echo(f"notify: {exc}", err=True)
        return False
    click.echo(f"notify: {result.describe()}", err=True)
    return not result.errors


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8001,
    show_default=True,
    help="Port; 0 takes any free one (the line it prints names it).",
)
def serve(db_path: str, host: str, port: int) -> None:
    """Browse the store in Datasette: latest coverage, sightings, source health, search, feeds.

    Read-only: it never writes the database, and shows what a running daemon adds. Needs the
    web extra (pip install 'followup-crawler[web]'). Exit status 2 when there is no database
    or the port is taken.
    """
    if is_postgres_url(db_path):
        raise BadInput(
            "followup serve reads a SQLite file only (Datasette reads SQLite); on PostgreSQL "
            "use `followup query`, `search`, `export` and `status` with the same --db"
        )
    try:
        from crawler.web.app import ServeError, build_datasette, listen, run_datasette, served_url
    except ModuleNotFoundError as exc:
        raise BadInput(
            f"followup serve needs Datasette ({exc.name} is not installed): "
            "pip install 'followup-crawler[web]'"
        ) from None
    try:
        datasette = build_datasette(Path(db_path))
        sock = listen(host, port)
    except ServeError as exc:
        raise BadInput(str(exc)) from None
    with sock:
        click.echo(f"Serving {db_path} read-only at {served_url(sock)} (Ctrl-C stops)", err=True)
        run_datasette(datasette, sock)


@contextmanager
def source_locks(db_path: str, source_ids: Sequence[str]) -> Iterator[None]:
    """Hold the locks of these sources for the block, or exit BUSY_EXIT when another process
    holds one (nothing done), 1 when the store cannot be reached."""
    from crawler.locks import BUSY_EXIT, Held, open_locks

    locks = open_locks(db_path)
    held: list[Held] = []
    try:
        for source_id in source_ids:
            try:
                lock = locks.take_source(source_id)
            except sqlite3.DatabaseError as exc:
                click.echo(f"error: {source_id}: its lock could not be taken: {exc}", err=True)
                raise SystemExit(1) from None
            if lock is None:
                click.echo(f"{source_id}: another process crawls it now; not crawled", err=True)
                raise SystemExit(BUSY_EXIT)
            held.append(lock)
        yield
    finally:
        for lock in held:
            lock.release()


def _check_database(db_path: str) -> Store:
    """The database, opened and migrated, or a clear error (exit 2)."""
    try:
        return open_store(db_path)
    except StoreError as exc:
        raise BadInput(str(exc)) from None


def check_known(value: str | None, known: list[str], kind: str, db_path: str) -> None:
    """A --topic or --source naming something the database has, or a clear error (exit 2)."""
    if value is not None and value not in known:
        raise BadInput(
            f"no article in {db_path} is filed under {kind} {value!r}; "
            f"{kind}s there: {', '.join(known) or 'none yet'}"
        )


def when_option(
    value: str | None, name: str, *, now: datetime, end_of_day: bool = False
) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value, now=now, end_of_day=end_of_day)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


def write_output(text: str | Iterable[str], output: str | None) -> None:
    """UTF-8 text (or its pieces, as they come) to stdout, or to a file replaced in one step (a
    reader never sees half)."""
    pieces = [text] if isinstance(text, str) else text
    if output is None:
        stdout = sys.stdout.buffer  # buffered: one flush at the end, not one per piece
        for piece in pieces:
            stdout.write(piece.encode("utf-8"))
        stdout.flush()
        return
    directory = Path(output).parent
    if not directory.is_dir():
        raise click.BadParameter(
            f"directory {directory} does not exist; create it or write elsewhere",
            param_hint="-o/--output",
        )
    partial = f"{output}.partial"
    try:
        with open(partial, "wb") as file:
            for piece in pieces:
                file.write(piece.encode("utf-8"))
        os.replace(partial, output)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        Path(partial).unlink(missing_ok=True)


def load_checked_seeds(
    seeds_dir: str, *, sources: Sequence[str] = (), topics: Sequence[str] = ()
) -> Seeds:
    """The seeds directory, validated, or a clear error (exit 2)."""
    try:
        return load_seeds(seeds_dir).select(sources=sources, topics=topics)
    except ConfigError as exc:
        raise BadInput(str(exc)) from None


def run_checked_crawl(seeds: Seeds, db_path: str, settings: dict[str, Any]) -> CrawlResult:
    """Run one crawl in this process, into a database checked first."""
    from crawler.runner import run_crawl  # Scrapy is imported only when a crawl runs

    try:
        open_store(db_path).close()
    except StoreError as exc:
        raise BadInput(str(exc)) from None
    return run_crawl(seeds, db_path, settings=settings)


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
