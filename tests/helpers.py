"""Helpers for tests that crawl the local web: seeds pointing at it, crawls in this process
or by the installed command, waits on conditions, processes that are always reaped."""

from __future__ import annotations

import itertools
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import crawler.settings
from crawler.mirror import Mirror
from tests.inprocess import crawl_in_process

TESTS = Path(__file__).parent
WEB = TESTS / "web"
QUERY = (
    "(阿里 OR 阿里巴巴 OR 淘宝 OR 天猫 OR 支付宝) AND (腾讯 OR 微信) AND "
    "(互联互通 OR 互通 OR 拆墙 OR 屏蔽 OR 外链 OR 链接 OR 微信支付 OR 口令)"
)
# The tests' web as sources: three healthy ones, then three that fail on purpose.
SOURCES = """
[[source]]
id = "news"
name = "新闻示例 (full-text feed)"
site = "generic"
feeds = ["{https://news.example.com/feed.xml}"]

[[source]]
id = "daily"
name = "每日科技 (teaser feed)"
site = "generic"
feeds = ["{https://daily.example.org/rss}"]

[[source]]
id = "listed"
name = "列表新闻 (listing page)"
site = "generic"
lists = ["{https://list.example.net/news/}"]

[[source]]
id = "broken"
site = "generic"
feeds = ["{https://broken.example.com/feed}"]

[[source]]
id = "bad"
site = "generic"
feeds = ["{https://bad.example.com/feed.xml}"]

[[source]]
id = "slow"
site = "generic"
feeds = ["{https://slow.example.com/feed}"]
"""
# The same web without the sources that fail on purpose (they make a crawl wait for timeouts).
HEALTHY_SOURCES = SOURCES.split('[[source]]\nid = "broken"')[0]
# Fast, but the same mechanisms: retries with backoff, timeouts, robots.txt. No politeness
# delays; the timeout is generous, so a loaded machine never fails a healthy page.
FAST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "DOWNLOAD_TIMEOUT": "60",
    "RETRY_TIMES": "1",
    "FOLLOWUP_RETRY_BACKOFF": "0.2",
}
# A held URL (Mirror.hold: never answered) times out this soon; every other request keeps
# DOWNLOAD_TIMEOUT. Setting: the local URLs held.
HELD_TIMEOUT = 0.5
HELD_URLS_SETTING = "TESTS_HELD_URLS"
# How long a test waits for a condition before it gives up: never a budget a loaded machine
# must meet, only a guard against a hung test.
WAIT_CEILING = 120.0
# How many ports a server that cannot take port 0 is started on before its fixture gives up:
# each was free a moment before, so only ports bound as fast as we pick them could take all five.
PORT_ATTEMPTS = 5

T = TypeVar("T")


def write_seeds(directory: Path, mirror: Mirror, sources: str, topics: str | None = None) -> Path:
    """A seeds directory whose URLs ({https://host/path}) point at the mirror."""
    directory.mkdir(parents=True, exist_ok=True)
    localise = _localiser(mirror)
    (directory / "sources.toml").write_text(localise(sources), encoding="utf-8")
    default_topics = f"""
[[topic]]
id = "interop"
name = "阿里腾讯互联互通"
query = '{QUERY}'
seeds = ["{{https://list.example.net/news/1999.html}}"]
"""
    (directory / "topics.toml").write_text(localise(topics or default_topics), encoding="utf-8")
    return directory


def _localiser(mirror: Mirror) -> Callable[[str], str]:
    return lambda text: re.sub(r"\{(https?://[^}]+)\}", lambda m: mirror.url_for(m[1]), text)


def crawl(seeds: Path, db: Path, *, settings: Mapping[str, Any] = FAST_SETTINGS) -> dict[str, Any]:
    """Per-source figures of one crawl in this process, as `followup crawl --json` prints them."""
    return crawl_in_process(seeds, db, settings=settings)["sources"]


def held_settings(mirror: Mirror, *urls: str) -> dict[str, Any]:
    """FAST_SETTINGS, with requests to the held (real) URLs timing out after HELD_TIMEOUT."""
    middlewares = {
        **crawler.settings.DOWNLOADER_MIDDLEWARES,
        f"{__name__}.HeldTimeoutMiddleware": 340,
    }
    return {
        **FAST_SETTINGS,
        "DOWNLOADER_MIDDLEWARES": middlewares,
        HELD_URLS_SETTING: [mirror.url_for(url) for url in urls],
    }


class HeldTimeoutMiddleware:
    """A short download_timeout for the held URLs (before Scrapy's DownloadTimeoutMiddleware)."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = set(urls)

    @classmethod
    def from_crawler(cls, crawler: Any) -> HeldTimeoutMiddleware:
        return cls(crawler.settings.getlist(HELD_URLS_SETTING))

    def process_request(self, request: Any) -> None:
        if request.url in self.urls:
            request.meta["download_timeout"] = HELD_TIMEOUT


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now; another process may take it before a server binds
    it, so a server started on it goes through on_free_port()."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_ports() -> Iterator[int]:
    """Ports free a moment ago, one after another."""
    while True:
        yield free_port()


class PortTaken(Exception):
    """A server could not listen on the port it was given: another process bound it first."""


class NoPortLeft(RuntimeError):
    """A server found every port it was given taken; the message names the server."""


@contextmanager
def on_free_port(
    start: Callable[[int], AbstractContextManager[T]],
    server: str,
    *,
    ports: Iterator[int] | None = None,
    attempts: int = PORT_ATTEMPTS,
) -> Iterator[T]:
    """The server start(port) yields, on a port free a moment before; when start raises
    PortTaken (another process bound the port in that moment), started again on another.

    For servers that cannot take port 0 and tell which port they got (Scrapyd, PostgreSQL)."""
    candidates = free_ports() if ports is None else ports
    taken: list[str] = []
    for port in itertools.islice(candidates, attempts):
        with ExitStack() as stack:
            try:
                running = stack.enter_context(start(port))
            except PortTaken as exc:
                taken.append(f"{port} ({exc})")
                continue
            yield running
            return
    raise NoPortLeft(
        f"{server} could not listen on 127.0.0.1: each of {attempts} ports free a moment before "
        f"was taken before it bound it: {'; '.join(taken)}"
    )


@contextmanager
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses every connection while the block runs: bound, so no
    other process (another test, another suite on the machine) can listen there, and never
    listening itself. A port merely found free could be taken before the test connects."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def wait_until(check: Callable[[], object], what: str, *, timeout: float = WAIT_CEILING) -> None:
    """Poll check until it is true; fail naming what was awaited after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def reaped(process: subprocess.Popen[str], *, grace: float = 30) -> Iterator[subprocess.Popen[str]]:
    """The process, ended however the block ends: SIGTERM, SIGKILL after grace, always waited
    for and its pipes closed (a killed but unreaped child fails a later test with a
    ResourceWarning)."""
    with process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    process.kill()


def run_followup(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run the installed `followup` command as a subprocess."""
    command = Path(sys.executable).with_name("followup")
    return subprocess.run(
        [str(command), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def start_followup_daemon(seeds: Path, db: Path, log: Path, *args: str) -> subprocess.Popen[str]:
    """The installed `followup daemon` with the fast settings, logging to log (reap it)."""
    command = Path(sys.executable).with_name("followup")
    return subprocess.Popen(
        [
            *(str(command), "daemon", "--seeds", str(seeds), "--db", str(db)),
            *("--log-file", str(log), *setting_args(), *args),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def setting_args(settings: dict[str, str] = FAST_SETTINGS) -> Sequence[str]:
    """-s NAME=VALUE arguments for the crawl command."""
    return [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]


def query(db: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    """Rows read with a connection of their own, as another program would while the daemon writes."""
    if not db.exists():
        return []
    with closing(sqlite3.connect(db, timeout=10)) as connection:
        connection.row_factory = sqlite3.Row
        try:
            return connection.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:  # a table the daemon has not created yet
            if "no such table" in str(exc):
                return []
            raise


def assert_consistent(db: Path) -> None:
    """Nothing half-written: every stored article has its seen row and each URL is stored once."""
    assert [tuple(r) for r in query(db, "PRAGMA integrity_check")] == [("ok",)]
    articles = [r["url"] for r in query(db, "SELECT url FROM articles")]
    duplicates = [r["url"] for r in query(db, "SELECT url FROM duplicates")]
    seen = {r["url"]: r["status"] for r in query(db, "SELECT url, status FROM seen")}
    assert len(set(articles)) == len(articles) and not set(articles) & set(duplicates)
    assert {u for u, s in seen.items() if s == "stored"} == set(articles)
    assert {u for u, s in seen.items() if s == "duplicate"} == set(duplicates)
