"""seeds/notify.toml: where notifications go, for which topics and events, each or as a digest."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from crawler.config import ConfigError, EntryReader, Topic, parse_entries

NOTIFY_FILE = "notify.toml"
MODES = ("each", "digest")
EVENTS = ("new", "health")
# Apprise URLs are scheme://…; the scheme names the service (json, mailto, wecombot, tgram…).
URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)
AT_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
ENV_PREFIX = "env:"
DEFAULT_BURST = 20
# Services that limit a message by bytes where Apprise counts characters.
BYTE_LIMITS = {"wecombot": 2048}

Mode = Literal["each", "digest"]


@dataclass(frozen=True, slots=True)
class Target:
    """One [[notify]] entry: an Apprise URL and what is sent to it."""

    id: str
    url: str  # the Apprise URL, with secrets (never printed: see `shown`)
    shown: str  # the URL as errors and status show it: env:VAR, or credentials masked
    topics: tuple[str, ...] = ()  # empty: every topic
    mode: Mode = "each"
    every: timedelta = timedelta(days=1)  # digest period
    at: time = time(8, 30)  # digest time of day, Beijing time
    events: tuple[str, ...] = EVENTS
    burst: int = DEFAULT_BURST  # more new articles than this at once: one summary message
    max_bytes: int | None = None  # message size limit in UTF-8 bytes; None: the service's own
    where: str = ""  # file and entry, for errors

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0].lower()

    @property
    def byte_limit(self) -> int | None:
        return self.max_bytes or BYTE_LIMITS.get(self.scheme)

    def wants(self, topics: Sequence[str]) -> bool:
        """True when new coverage under any of these topics goes to this target."""
        return "new" in self.events and (not self.topics or any(t in self.topics for t in topics))


def load_targets(directory: str | Path, *, topics: Sequence[Topic] = ()) -> tuple[Target, ...]:
    """The targets of `directory`/notify.toml; none when the file does not exist."""
    path = Path(directory) / NOTIFY_FILE
    if not path.exists():
        return ()
    known = {topic.id for topic in topics}
    return tuple(parse_entries(path, "notify", lambda entry: _parse_target(entry, known)))


def mask_url(url: str) -> str:
    """An Apprise URL with everything that may be a secret replaced by ***.

    Services put tokens in the user, password, host or path (tgram://TOKEN/CHAT,
    wecombot://KEY): only the scheme, a host that looks like a host name or address, and
    the port are kept.
    """
    scheme, found, rest = url.partition("://")
    if not found:
        return "***"  # not a URL at all: it may be a bare token
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return f"{scheme}://***"
    user = "***@" if parts.username or parts.password else ""
    shown_host = host if "." in host or host == "localhost" else "***"
    shown_port = f":{port}" if port else ""
    path = "/***" if parts.path.strip("/") or parts.query else ""
    return f"{scheme}://{user}{shown_host}{shown_port}{path}"


def _parse_target(entry: EntryReader, known_topics: set[str]) -> Target:
    entry.check_keys({"id", "url", "topics", "mode", "every", "at", "events", "burst", "max_bytes"})
    url, shown = _url(entry)
    mode = _choice(entry, "mode", MODES, "each")
    return Target(
        id=entry.identifier(),
        url=url,
        shown=shown,
        topics=_names(entry, "topics", known_topics, "topic"),
        mode="digest" if mode == "digest" else "each",
        every=entry.duration("every", "1d"),
        at=_at(entry),
        events=_names(entry, "events", set(EVENTS), "event", default=EVENTS),
        burst=_count(entry, "burst") or DEFAULT_BURST,
        max_bytes=_count(entry, "max_bytes"),
        where=entry.where,
    )


def _url(entry: EntryReader) -> tuple[str, str]:
    """The URL (an env:VAR read from the environment) and how it may be shown."""
    raw = entry.string("url")
    if raw.startswith(ENV_PREFIX):
        name = raw[len(ENV_PREFIX) :]
        value = os.environ.get(name, "").strip()
        if not value:
            raise entry.error("url", f"environment variable {name} is not set; export it")
        url, shown = value, raw
    else:
        url, shown = raw, mask_url(raw)
    if not URL_RE.match(url):
        raise entry.error(
            "url", f"{shown} is not an Apprise URL; write e.g. json://host/path or mailto://…"
        )
    return url, shown


def _choice(entry: EntryReader, key: str, allowed: tuple[str, ...], default: str) -> str:
    value = entry.string(key, default)
    if value not in allowed:
        raise entry.error(key, f"{value!r} is not one of {', '.join(map(repr, allowed))}")
    return value


def _names(
    entry: EntryReader,
    key: str,
    known: set[str],
    kind: str,
    *,
    default: tuple[str, ...] = (),
) -> tuple[str, ...]:
    value = entry.data.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise entry.error(key, f"must be a list of {kind} ids, not {value!r}")
    unknown = [v for v in value if v not in known]
    if unknown:
        raise entry.error(
            key,
            f"unknown {kind} {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}",
        )
    return tuple(dict.fromkeys(value))


def _at(entry: EntryReader) -> time:
    value = entry.string("at", "08:30")
    match = AT_RE.match(value)
    if match is None:
        raise entry.error("at", f"{value!r} is not a time of day; write HH:MM, e.g. '08:30'")
    return time(int(match[1]), int(match[2]))


def _count(entry: EntryReader, key: str) -> int | None:
    value = entry.data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise entry.error(key, f"must be a positive whole number, not {value!r}")
    return value


def require_targets(targets: Sequence[Target], directory: str | Path) -> None:
    """Raise ConfigError when there is nothing to send to."""
    if not targets:
        raise ConfigError(
            f"{Path(directory) / NOTIFY_FILE} not found: create it with a [[notify]] entry "
            "(see README, Notifications)"
        )
