"""What a notification says: one article, a burst summary, a digest, a health change.

Pure functions from stored coverage to `Message`s; no Apprise, no database. Every message
ends with the outbox row ids it delivers ("followup #42"): delivery is at-least-once, and a
receiver that keeps the ids drops a repeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from crawler.coverage import Coverage
from crawler.dates import BEIJING, from_iso
from crawler.export import excerpt, format_markdown
from crawler.notify.targets import Target

# The first lines of an article's text in its message.
EXCERPT_CHARS = 200
# Digest periods are counted from this moment (a Monday): a weekly digest comes on Mondays.
PERIOD_EPOCH = datetime(2001, 1, 1, tzinfo=BEIJING)
# A burst summary lists this many articles; the rest are counted.
BURST_LISTED = 50


@dataclass(frozen=True, slots=True)
class Message:
    """One notification: a title and a plain-text (or Markdown) body."""

    title: str
    body: str
    markdown: bool = False


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """A source problem that started or cleared."""

    source: str
    code: str
    detail: str
    state: str  # "start" or "clear"
    since: str  # UTC ISO-8601: when the problem was first reported


def id_line(row_ids: Sequence[int]) -> str:
    """The last line of every message: the outbox rows it delivers."""
    return "followup " + " ".join(f"#{i}" for i in row_ids)


def beijing(value: str | datetime) -> str:
    """A time (a stored UTC string, or aware) as Beijing time: '2026-11-20 10:30 (Beijing)'."""
    moment = from_iso(value) if isinstance(value, str) else value
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M} (Beijing)"


def article_message(item: Coverage, *, row_id: int) -> Message:
    """One new article: title, source, Beijing time, URL, matched terms, first lines of text."""
    lines = [f"{item.source} · {beijing(item.published_at or item.fetched_at)}", item.url]
    lines += [f"{topic}: {', '.join(terms)}" for topic, terms in item.topics.items()]
    lines += ["", excerpt(item.text, limit=EXCERPT_CHARS), "", id_line([row_id])]
    return Message(item.title, "\n".join(lines))


def burst_message(items: Sequence[Coverage], *, row_ids: Sequence[int]) -> Message:
    """Many new articles at once, as one message: a line each (the first BURST_LISTED)."""
    lines = [
        f"- {item.title} · {item.source} · {beijing(item.published_at or item.fetched_at)}\n"
        f"  {item.url}"
        for item in items[:BURST_LISTED]
    ]
    if len(items) > BURST_LISTED:
        lines.append(f"… and {len(items) - BURST_LISTED} more: followup export --since 1d")
    lines += ["", id_line(row_ids)]
    return Message(f"followup: {len(items)} new articles", "\n".join(lines))


def digest_message(
    items: Sequence[Coverage], *, start: datetime, end: datetime, row_id: int
) -> Message:
    """The export's Markdown digest of the articles stored in a period."""
    title = (
        f"followup digest {start.astimezone(BEIJING):%Y-%m-%d %H:%M} – "
        f"{end.astimezone(BEIJING):%Y-%m-%d %H:%M} (Beijing)"
    )
    return Message(title, f"{format_markdown(items)}\n{id_line([row_id])}\n", markdown=True)


def health_message(event: HealthEvent, *, row_id: int) -> Message:
    """A source problem that started, or that cleared."""
    if event.state == "start":
        title = f"followup: source {event.source}: {event.code}"
        lines = [event.detail, f"since {beijing(event.since)}"]
    else:
        title = f"followup: source {event.source}: {event.code} cleared"
        lines = [f"was: {event.detail}", f"reported since {beijing(event.since)}"]
    return Message(title, "\n".join([*lines, "", id_line([row_id])]))


def probe_message(target: Target, *, now: datetime) -> Message:
    """What `followup notify test` sends."""
    return Message(
        f"followup: test message to {target.id}",
        f"If you read this, {target.shown} receives followup's notifications.\n"
        f"Sent {beijing(now)}; mode {target.mode}, "
        f"events {', '.join(target.events)}.",
    )


# Size limits --------------------------------------------------------------------------------


def split_bytes(text: str, limit: int) -> list[str]:
    """Text in pieces of at most `limit` UTF-8 bytes, never cut inside a character (a CJK
    character is 3 bytes). A line that fits is never cut; a longer one fills pieces whole."""
    if limit < 4:
        raise ValueError(f"a byte limit of {limit} cannot hold every UTF-8 character")
    pieces, current, used = [], "", 0
    for line in text.splitlines(keepends=True):
        if used + _size(line) > limit and _size(line) <= limit:
            pieces.append(current)
            current, used = "", 0
        for char in line:  # only a line longer than a whole piece meets a full one here
            if used + _size(char) > limit:
                pieces.append(current)
                current, used = "", 0
            current += char
            used += _size(char)
    pieces.append(current)
    return [piece.rstrip("\n") for piece in pieces if piece.strip()]


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def fit(message: Message, limit: int | None) -> list[Message]:
    """A message as the service takes it: whole, or for a byte-limited service the title
    and body together in numbered parts of at most `limit` bytes."""
    if limit is None:
        return [message]
    whole = f"{message.title}\n{message.body}" if message.title else message.body
    if _size(whole) <= limit:
        return [replace(message, title="", body=whole)]
    # Room for the "(12/12)\n" each part starts with.
    pieces = split_bytes(whole, limit - 16)
    return [
        replace(message, title="", body=f"({n}/{len(pieces)})\n{piece}")
        for n, piece in enumerate(pieces, start=1)
    ]


# Digest periods -----------------------------------------------------------------------------


def digest_period(moment: datetime, target: Target) -> tuple[datetime, datetime]:
    """The digest period [start, end) of `target` that `moment` falls in (UTC).

    Periods are `every` long and end at `at` Beijing time: every = 1d, at = 08:30 sends at
    08:30 each day the articles stored in the 24 hours before.
    """
    anchor = PERIOD_EPOCH + timedelta(hours=target.at.hour, minutes=target.at.minute)
    count = (moment - anchor) // target.every
    start = anchor + count * target.every
    return start.astimezone(UTC), (start + target.every).astimezone(UTC)
