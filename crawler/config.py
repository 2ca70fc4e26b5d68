"""The seeds directory: sources.toml (what to poll), topics.toml (what to keep) and, optionally,
nodes.toml (the Scrapyd crawl nodes some sources are polled from)."""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from crawler.dates import format_duration, parse_duration
from crawler.query import Query, QuerySyntaxError, lowercase_operators, parse_query
from crawler.sites import SITES, Site, get_site, site_for_url
from crawler.urls import is_http_url

logger = logging.getLogger(__name__)

SOURCES_FILE = "sources.toml"
TOPICS_FILE = "topics.toml"
NODES_FILE = "nodes.toml"
ID_RE = re.compile(r"^[a-z0-9_]+$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The longest a source may wait between polls (its backoff and max_every included), so that
# every planned time stays a date.
LONGEST_INTERVAL = timedelta(days=100 * 365)
# Default bounds of a source's adaptive polling interval: every / 4 up to every × 8.
MIN_EVERY_DIVISOR = 4
MAX_EVERY_FACTOR = 8


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


IdT = TypeVar("IdT", bound=_HasId)


# Topic seeds' articles are recorded under this source id; no source of the seeds file has it.
SEEDS_SOURCE = "seeds"


class ConfigError(ValueError):
    """A seeds file that cannot be used; the message names file, entry, key and the fix."""


@dataclass(frozen=True, slots=True)
class Source:
    """A site to poll: its feeds and listing pages, read by the site module `site`."""

    id: str
    name: str
    site: str
    feeds: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    every: timedelta = timedelta(minutes=30)
    # Bounds of the daemon's adaptive interval; None: every / 4 and every × 8.
    min_every: timedelta | None = None
    max_every: timedelta | None = None
    # Re-fetch stored articles published this recently on every poll to catch edits; None: off.
    recheck: timedelta | None = None
    # The crawl node (nodes.toml) that polls this source; None: the daemon's own machine.
    node: str | None = None

    @property
    def module(self) -> Site:
        """The site module that reads this source's feeds, lists and pages."""
        return get_site(self.site)

    @property
    def polling_bounds(self) -> tuple[timedelta, timedelta]:
        """The shortest and the longest interval the daemon may poll this source at."""
        return (
            self.min_every or self.every / MIN_EVERY_DIVISOR,
            min(self.max_every or self.every * MAX_EVERY_FACTOR, LONGEST_INTERVAL),
        )


@dataclass(frozen=True, slots=True)
class TopicSeed:
    """An article already known to cover a topic: fetched once, stored as baseline."""

    url: str
    site: str


@dataclass(frozen=True, slots=True)
class Topic:
    """A story to follow: the query an article must match to be kept."""

    id: str
    name: str
    query: Query
    seeds: tuple[TopicSeed, ...] = ()


@dataclass(frozen=True, slots=True)
class Node:
    """A Scrapyd server that crawls sources for the daemon (a machine in the right place)."""

    id: str
    url: str
    project: str = "followup"
    # The environment variable holding "user:password" for Scrapyd's basic auth; None: none.
    auth_env: str | None = None
    # The seeds directory on the node; None: the daemon's own path.
    seeds: str | None = None


@dataclass(frozen=True, slots=True)
class Seeds:
    """Everything the seeds directory defines."""

    directory: Path
    sources: tuple[Source, ...]
    topics: tuple[Topic, ...] = field(default=())
    nodes: tuple[Node, ...] = field(default=())

    def select(self, *, sources: Sequence[str] = (), topics: Sequence[str] = ()) -> Seeds:
        """Only the named sources and topics (all when none are named)."""
        return Seeds(
            self.directory,
            _pick(self.sources, sources, self.directory / SOURCES_FILE, "source"),
            _pick(self.topics, topics, self.directory / TOPICS_FILE, "topic"),
            self.nodes,
        )

    def node(self, node_id: str) -> Node:
        """The node of that id (load_seeds checked every source's node exists)."""
        return next(node for node in self.nodes if node.id == node_id)


def _pick(items: tuple[IdT, ...], ids: Sequence[str], path: Path, kind: str) -> tuple[IdT, ...]:
    if not ids:
        return items
    known = {item.id: item for item in items}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ConfigError(
            f"{path}: no {kind} with id {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(known) or 'none'}"
        )
    return tuple(known[i] for i in dict.fromkeys(ids))


def load_seeds(directory: str | Path) -> Seeds:
    """Read and check sources.toml and topics.toml in a seeds directory."""
    directory = Path(directory)
    sources = tuple(parse_entries(directory / SOURCES_FILE, "source", _parse_source))
    topics = tuple(parse_entries(directory / TOPICS_FILE, "topic", _parse_topic))
    nodes = load_nodes(directory)
    _check_source_nodes(directory / SOURCES_FILE, sources, nodes)
    return Seeds(directory, sources, topics, nodes)


def load_nodes(directory: str | Path) -> tuple[Node, ...]:
    """The crawl nodes of nodes.toml; none when the file does not exist (all crawls are local)."""
    path = Path(directory) / NODES_FILE
    if not path.exists():
        return ()
    return tuple(parse_entries(path, "node", _parse_node))


def _check_source_nodes(path: Path, sources: Sequence[Source], nodes: Sequence[Node]) -> None:
    known = {node.id for node in nodes}
    for index, source in enumerate(sources, start=1):
        if source.node is not None and source.node not in known:
            where = f"{path}: [[source]] #{index} (id {source.id!r}): key 'node'"
            raise ConfigError(
                f"{where}: no node {source.node!r} in {path.parent / NODES_FILE}; "
                f"known: {', '.join(sorted(known)) or 'none'} (add a [[node]] there or remove the key)"
            )


class EntryReader:
    """Typed access to one [[table]] entry, raising ConfigError that names where it is."""

    def __init__(self, path: Path, kind: str, index: int, data: dict[str, Any]) -> None:
        self.path, self.kind, self.data = path, kind, data
        ident = data.get("id")
        label = f" (id {ident!r})" if isinstance(ident, str) else ""
        self.where = f"{path}: [[{kind}]] #{index}{label}"

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}: key {key!r}: {problem}")

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"unknown key; allowed: {', '.join(sorted(allowed))}")

    def string(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise self.error(key, "missing; it is required")
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, not {value!r}")
        return value.strip()

    def identifier(self, key: str = "id") -> str:
        value = self.string(key)
        if not ID_RE.match(value):
            raise self.error(key, f"{value!r} must match [a-z0-9_]+ (lower case, digits, _)")
        return value

    def urls(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self.error(key, f"must be a list of URLs, not {value!r}")
        for url in value:
            if not isinstance(url, str) or not is_http_url(url):
                raise self.error(key, f"{url!r} is not an absolute http(s) URL")
        return tuple(value)

    def duration(self, key: str, default: str) -> timedelta:
        raw = self.data.get(key, default)
        try:
            return parse_duration(str(raw))
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def optional_duration(self, key: str) -> timedelta | None:
        return self.duration(key, "") if key in self.data else None


def parse_entries(path: Path, kind: str, parse: Callable[[EntryReader], IdT]) -> list[IdT]:
    data = _read_toml(path)
    entries = data.get(kind, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: {kind!r} must be an array of tables, written [[{kind}]]")
    if not entries:
        raise ConfigError(f"{path}: no [[{kind}]] entries; add at least one (see README)")
    parsed = [parse(EntryReader(path, kind, i, e)) for i, e in enumerate(entries, start=1)]
    ids = [item.id for item in parsed]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{path}: {kind} id {', '.join(map(repr, duplicates))} used twice")
    return parsed


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"{path} not found: create it or point --seeds at a seeds directory"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _parse_source(entry: EntryReader) -> Source:
    entry.check_keys(
        {
            "id",
            "name",
            "site",
            "feeds",
            "lists",
            "every",
            "min_every",
            "max_every",
            "recheck",
            "node",
        }
    )
    source_id = entry.identifier()
    if source_id == SEEDS_SOURCE:
        raise entry.error("id", f"{SEEDS_SOURCE!r} is reserved for topic seeds; choose another id")
    site = entry.string("site", "generic")
    if site not in SITES:
        raise entry.error("site", f"unknown site {site!r}; known: {', '.join(sorted(SITES))}")
    feeds, lists = entry.urls("feeds"), entry.urls("lists")
    if not feeds and not lists:
        raise entry.error("feeds", "a source needs at least one URL in 'feeds' or 'lists'")
    source = Source(
        id=source_id,
        name=entry.string("name", source_id),
        site=site,
        feeds=feeds,
        lists=lists,
        every=entry.duration("every", "30m"),
        min_every=entry.optional_duration("min_every"),
        max_every=entry.optional_duration("max_every"),
        recheck=entry.optional_duration("recheck"),
        node=entry.identifier("node") if "node" in entry.data else None,
    )
    shortest, longest = source.polling_bounds
    if source.every > LONGEST_INTERVAL:
        raise entry.error("every", "must be at most 100 years (36500d)")
    if shortest > source.every:
        raise entry.error(
            "min_every", f"must not be longer than every ({format_duration(source.every)})"
        )
    if longest < source.every:
        raise entry.error(
            "max_every", f"must not be shorter than every ({format_duration(source.every)})"
        )
    return source


def _parse_node(entry: EntryReader) -> Node:
    entry.check_keys({"id", "url", "project", "auth_env", "seeds"})
    url = entry.string("url")
    if not is_http_url(url):
        raise entry.error("url", f"{url!r} is not an http(s) URL of a Scrapyd server")
    auth_env = entry.string("auth_env") if "auth_env" in entry.data else None
    if auth_env is not None and not ENV_NAME_RE.match(auth_env):
        raise entry.error(
            "auth_env",
            f"{auth_env!r} is not an environment variable name; name the variable that holds "
            "user:password (e.g. SCRAPYD_CN_AUTH), never the password itself",
        )
    return Node(
        id=entry.identifier(),
        url=url.rstrip("/"),
        project=entry.string("project", "followup"),
        auth_env=auth_env,
        seeds=entry.string("seeds") if "seeds" in entry.data else None,
    )


def _parse_topic(entry: EntryReader) -> Topic:
    entry.check_keys({"id", "name", "query", "seeds"})
    topic_id = entry.identifier()
    try:
        query = parse_query(entry.string("query"))
    except QuerySyntaxError as exc:
        raise entry.error("query", f"{exc}") from None
    for word in lowercase_operators(entry.string("query")):
        logger.warning(
            "%s: key 'query': %r is searched as a word, not an operator; write %s for the "
            'operator, or "%s" (quoted) to search the word',
            entry.where,
            word,
            word.upper(),
            word,
        )
    return Topic(topic_id, entry.string("name", topic_id), query, _parse_topic_seeds(entry))


def _parse_topic_seeds(entry: EntryReader) -> tuple[TopicSeed, ...]:
    raw = entry.data.get("seeds", [])
    if not isinstance(raw, list):
        raise entry.error("seeds", "must be a list of URLs or { url = …, site = … } tables")
    seeds = []
    for item in raw:
        url, site = (item, None) if isinstance(item, str) else _seed_table(entry, item)
        if not is_http_url(url):
            raise entry.error("seeds", f"{url!r} is not an absolute http(s) URL")
        module = get_site(site) if site else site_for_url(url)
        seeds.append(TopicSeed(module.canonical_url(url), module.id))
    return tuple(seeds)


def _seed_table(entry: EntryReader, item: object) -> tuple[str, str | None]:
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        raise entry.error("seeds", f"{item!r} is neither a URL nor a {{ url = … }} table")
    site = item.get("site")
    if site is not None and site not in SITES:
        raise entry.error("seeds", f"unknown site {site!r}; known: {', '.join(sorted(SITES))}")
    extra = set(item) - {"url", "site"}
    if extra:
        raise entry.error("seeds", f"unknown key(s) {', '.join(sorted(extra))} in {item!r}")
    return item["url"], site
