"""Export formats for stored coverage: CSV, JSON, NDJSON, an Atom feed, a Markdown digest.

Plain functions from `Coverage` (crawler.coverage) to text: no click, no Scrapy, no database.

JSON and NDJSON carry the same article objects, an array in JSON and one object a line in
NDJSON (so `sqlite-utils insert other.db articles - --nl` and `jq` read either). The field
names and types are a stable contract: later versions may add fields, never rename, retype or
remove one.

    url              str   canonical URL, unique in the store
    title            str
    source           str   source id; "seeds" for a topic's known coverage
    author           str | null
    published_at     str | null   UTC ISO-8601, "2026-11-20T02:30:00Z"; null when unknown
    fetched_at       str   UTC ISO-8601
    baseline         bool  a topic seed: coverage known before the crawl, not news
    topics           {topic id: [matched terms]}
    text             str   the extracted text, one paragraph a line
    also_covered_by  [{url, source, title, published_at, seen_at, distance}]
                     reposts of the article elsewhere; distance in simhash bits
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from html import escape
from itertools import groupby
from typing import Any, Literal

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from crawler import __version__
from crawler.coverage import Coverage, Sighting
from crawler.dates import BEIJING, beijing_time
from crawler.text import one_line

Format = Literal["csv", "json", "ndjson", "atom", "md"]
FORMATS: tuple[Format, ...] = ("csv", "json", "ndjson", "atom", "md")
MULTI_PASS: frozenset[Format] = frozenset({"atom", "md"})  # they read the articles more than once
SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".atom": "atom",
    ".xml": "atom",
    ".md": "md",
}
CSV_COLUMNS = (
    "published_at",
    "source",
    "title",
    "author",
    "url",
    "baseline",
    "topics",
    "matched",
    "also_covered_by",
    "excerpt",
)
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXCERPT_CHARS = 80
CSV_PIECE_ROWS = 200
SENTENCE_ENDS = "。！？!?；;"
# Characters with a meaning in Markdown, escaped in text taken from the web.
MARKDOWN_SPECIAL = set("\\`*_[]<>#|~!")


# Where a stored time is not a time at all (written by hand, or by an older version).
NO_TIME = datetime(1970, 1, 1, tzinfo=BEIJING)


class ExportError(ValueError):
    """An export that cannot be made as asked (e.g. an Atom feed without a topic)."""


# Articles to export: an iterable read once, or a function reading them afresh (Atom and Markdown
# read them more than once: for the feed's time, the digest's count and each topic).
Articles = Iterable[Coverage] | Callable[[], Iterable[Coverage]]


def render(
    items: Articles,
    fmt: Format,
    *,
    topic: str | None = None,
    bom: bool = False,
    now: datetime,
) -> str:
    """items in the format fmt, as one string (see iter_render)."""
    return "".join(iter_render(items, fmt, topic=topic, bom=bom, now=now))


def iter_render(
    items: Articles,
    fmt: Format,
    *,
    topic: str | None = None,
    bom: bool = False,
    now: datetime,
) -> Iterator[str]:
    """items in the format fmt, piece by piece, one article in memory at a time (Atom and
    Markdown too when items is a function that reads them again; else they are listed).

    Atom needs the topic its feed is for; now dates an empty feed. Arguments are checked before
    the first piece, so a bad export writes nothing.
    """
    if bom and fmt != "csv":
        raise ExportError("a byte-order mark is for CSV only (Excel); drop --bom")
    if fmt == "atom" and topic is None:
        raise ExportError("an Atom feed is one topic's feed: name it with --topic")
    return _pieces(_reader(items, fmt), fmt, topic=topic, bom=bom, now=now)


def _reader(items: Articles, fmt: Format) -> Callable[[], Iterable[Coverage]]:
    """A function giving the articles; one-shot iterables are listed where read twice."""
    if callable(items):
        return items
    if fmt in MULTI_PASS and not isinstance(items, Sequence):
        listed = list(items)
        return lambda: listed
    return lambda: items


def _pieces(
    read: Callable[[], Iterable[Coverage]],
    fmt: Format,
    *,
    topic: str | None,
    bom: bool,
    now: datetime,
) -> Iterator[str]:
    if fmt == "csv":
        return iter_csv(read(), bom=bom)
    if fmt == "json":
        return iter_json(read())
    if fmt == "ndjson":
        return iter_ndjson(read())
    if fmt == "atom":
        assert topic is not None
        return iter_atom(read(), topic=topic, updated=feed_updated(read(), now=now))
    return iter_markdown(read, topic=topic)


def format_for(filename: str | None) -> Format | None:
    """The format a file name's suffix asks for, if any."""
    if filename is None:
        return None
    return next((f for s, f in SUFFIXES.items() if filename.lower().endswith(s)), None)


# JSON, NDJSON -------------------------------------------------------------------------------


def article_record(item: Coverage) -> dict[str, Any]:
    """One article as the documented JSON object."""
    return {
        "url": item.url,
        "title": item.title,
        "source": item.source,
        "author": item.author,
        "published_at": item.published_at,
        "fetched_at": item.fetched_at,
        "baseline": item.baseline,
        "topics": item.topics,
        "text": item.text,
        "also_covered_by": [sighting_record(s) for s in item.sightings],
    }


def sighting_record(sighting: Sighting) -> dict[str, Any]:
    return {
        "url": sighting.url,
        "source": sighting.source,
        "title": sighting.title,
        "published_at": sighting.published_at,
        "seen_at": sighting.seen_at,
        "distance": sighting.distance,
    }


def format_json(items: Iterable[Coverage]) -> str:
    return "".join(iter_json(items))


def iter_json(items: Iterable[Coverage]) -> Iterator[str]:
    """One JSON array, element by element: the text json.dumps(records, indent=2) gives."""
    opening = "[\n"
    for item in items:
        record = json.dumps(article_record(item), ensure_ascii=False, indent=2)
        # JSON strings hold no raw newline: indenting every line indents the element only.
        yield opening + record.replace("\n", "\n  ").join(("  ", ""))
        opening = ",\n"
    yield "[]\n" if opening == "[\n" else "\n]\n"


def format_ndjson(items: Iterable[Coverage]) -> str:
    return "".join(iter_ndjson(items))


def iter_ndjson(items: Iterable[Coverage]) -> Iterator[str]:
    encode = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps builds one per call
    for item in items:
        yield encode(article_record(item)) + "\n"


# CSV ----------------------------------------------------------------------------------------


def format_csv(items: Iterable[Coverage], *, bom: bool = False) -> str:
    """RFC 4180 CSV, one article a row, safe to open in a spreadsheet."""
    return "".join(iter_csv(items, bom=bom))


def iter_csv(items: Iterable[Coverage], *, bom: bool = False) -> Iterator[str]:
    """format_csv row by row, a few hundred rows a piece."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff" if bom else "")
    writer.writerow(CSV_COLUMNS)
    for number, item in enumerate(items, start=1):
        writer.writerow([safe_cell(cell) for cell in csv_row(item)])
        if number % CSV_PIECE_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_row(item: Coverage) -> list[str]:
    return [
        item.published_at or "",
        item.source,
        item.title,
        item.author or "",
        item.url,
        "yes" if item.baseline else "no",
        "; ".join(item.topics),
        "; ".join(f"{topic}: {', '.join(terms)}" for topic, terms in item.topics.items()),
        "; ".join(f"{s.source} {s.url}" for s in item.sightings),
        excerpt(item.text),
    ]


def safe_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading ' before anything it would evaluate."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


# Atom ---------------------------------------------------------------------------------------


def format_atom(items: Iterable[Coverage], *, topic: str, now: datetime) -> str:
    """An Atom 1.0 feed of one topic's articles, newest first, with stable ids."""
    items = list(items)
    return "".join(iter_atom(items, topic=topic, updated=feed_updated(items, now=now)))


def feed_updated(items: Iterable[Coverage], *, now: datetime) -> datetime:
    """The feed's <updated>: its newest entry's, or now for an empty feed."""
    return max(map(entry_updated, items), default=now)


def iter_atom(items: Iterable[Coverage], *, topic: str, updated: datetime) -> Iterator[str]:
    """The feed, entry by entry: feedgen writes the feed's head, each entry on its own."""
    feed = FeedGenerator()
    feed.id(stable_id(f"followup:topic:{topic}"))
    feed.title(f"followup: {topic}")
    feed.subtitle(f"Articles on topic {topic!r} and where else each appeared")
    feed.author({"name": "followup"})
    feed.generator("followup", __version__)
    feed.language("zh-CN")
    feed.updated(updated)
    head, tail = str(feed.atom_str(pretty=True), "utf-8").rsplit("</feed>", 1)
    yield head
    for item in items:
        element = atom_entry(item).atom_entry()
        yield etree.tostring(element, pretty_print=True, encoding="unicode")
    yield "</feed>" + tail


def atom_entry(item: Coverage) -> FeedEntry:
    entry = FeedEntry()
    entry.id(stable_id(item.url))
    entry.title(one_line(item.title))
    entry.link(href=item.url, rel="alternate")
    entry.author({"name": one_line(item.author or "") or item.source})
    published = beijing_time(item.published_at) if item.published_at else None
    if published is not None:
        entry.published(published)
    entry.updated(entry_updated(item))
    entry.category([{"term": item.source, "label": f"source: {item.source}"}])
    if item.baseline:
        entry.category({"term": "baseline", "label": "known coverage (topic seed)"})
    entry.summary(excerpt(item.text))
    entry.content(entry_html(item), type="html")
    return entry


def stable_id(name: str) -> str:
    """An Atom id that never changes for the same canonical URL (or name), in any database."""
    return uuid.uuid5(uuid.NAMESPACE_URL, name).urn


def entry_updated(item: Coverage) -> datetime:
    """When the entry last changed: fetched, or a later sighting added to it."""
    times = [item.fetched_at, *(s.seen_at for s in item.sightings)]
    return max(filter(None, map(beijing_time, times)), default=NO_TIME)


def entry_html(item: Coverage) -> str:
    """The entry's content: its excerpt, matched terms and sightings, as escaped HTML."""
    # XML cannot carry control characters: a title stored with ESC or NUL (by an older
    # version) must not make the whole feed fail.
    parts = [f"<p>{escape(excerpt(item.text))}</p>"]
    for topic, terms in item.topics.items():
        parts.append(f"<p>{escape(topic)}: {escape(', '.join(terms) or '(topic seed)')}</p>")
    if item.sightings:
        links = "".join(
            f'<li>{escape(s.source)}: <a href="{escape(s.url)}">{escape(one_line(s.title))}</a></li>'
            for s in item.sightings
        )
        parts.append(f"<p>Also covered by:</p><ul>{links}</ul>")
    return "".join(parts)


# Markdown -----------------------------------------------------------------------------------


def format_markdown(items: Sequence[Coverage], *, topic: str | None = None) -> str:
    """A digest grouped by topic and by day (Beijing time), newest first, with sightings."""
    return "".join(iter_markdown(lambda: items, topic=topic))


def iter_markdown(
    read: Callable[[], Iterable[Coverage]], *, topic: str | None = None
) -> Iterator[str]:
    """format_markdown line by line: read() once to count, then once per topic."""
    count, names = 0, set[str]()
    for item in read():
        count += 1
        names.update(item.topics)
    total = f"{count} article{'' if count == 1 else 's'}"
    yield from _lines(["# followup digest", "", f"{total}. Times are Beijing time (UTC+8)."])
    for name in [topic] if topic else sorted(names):
        yield from _lines(["", f"## {md_escape(name)}"])
        in_topic = (item for item in read() if name in item.topics)
        for day, group in groupby(in_topic, key=lambda item: local_time(item).date()):
            yield from _lines(["", f"### {day.isoformat()}", ""])
            yield from _lines(line for item in group for line in markdown_article(item))
    if not count:
        yield from _lines(["", "Nothing stored matches."])


def _lines(lines: Iterable[str]) -> Iterator[str]:
    return (line + "\n" for line in lines)


def markdown_article(item: Coverage) -> list[str]:
    """One article: a list item with its link, source, time, excerpt and sightings."""
    facts = [item.source, local_time(item).strftime("%H:%M")]
    if item.author:
        facts.append(md_escape(item.author))
    if item.baseline:
        facts.append("known coverage (topic seed)")
    lines = [f"- **{md_link(one_line(item.title), item.url)}** · {' · '.join(facts)}"]
    lines.append(f"  > {md_escape(excerpt(item.text))}")
    for sighting in item.sightings:
        when = sighting.published_at or sighting.seen_at
        lines.append(
            f"  - also covered by {md_escape(sighting.source)}, "
            f"{beijing_time(when) or NO_TIME:%Y-%m-%d %H:%M}: "
            f"{md_link(one_line(sighting.title), sighting.url)}"
        )
    return lines


def local_time(item: Coverage) -> datetime:
    """The article's publication (else fetch) time in Beijing (NO_TIME for stored nonsense)."""
    return beijing_time(item.published_at or item.fetched_at) or NO_TIME


def md_escape(text: str) -> str:
    """Text from the web made literal in Markdown."""
    return "".join(f"\\{c}" if c in MARKDOWN_SPECIAL else c for c in text)


def md_link(text: str, url: str) -> str:
    target = url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")
    return f"[{md_escape(text)}](<{target}>)"


# Shared -------------------------------------------------------------------------------------


def excerpt(text: str, *, limit: int = EXCERPT_CHARS) -> str:
    """The opening of a text on one line, cut at a sentence end when one is near the limit."""
    # one_line of an opening is an opening of one_line: a long text is flattened only as far
    # as the excerpt reads (the whole text cost ~1 µs per 50 characters, per row of an export).
    flat = one_line(text[: limit * 4])
    if len(flat) <= limit and len(text) > limit * 4:
        flat = one_line(text)
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    end = max(cut.rfind(c) for c in SENTENCE_ENDS)
    return cut[: end + 1] if end >= limit * 0.6 else cut.rstrip() + "…"
