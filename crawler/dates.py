"""Publication times as the five sources print them, turned into UTC.

Every source prints Beijing time; a time without a zone is read as +08:00, never as UTC
(feedparser's choice, 8 hours off for these sites).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
# Publication times outside these bounds are impossible, and stored as unknown: the web
# began in 1991, and a site's clock running a day fast is the most we tolerate.
EARLIEST = datetime(1991, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

_NUMERIC_RE = re.compile(
    r"""^\s*
    (?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?
    (?:\s*[T\s]\s*(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?)?
    \s*(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2})?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)


def parse_datetime(value: str | None, *, default_tz: timezone = BEIJING) -> datetime | None:
    """Parse a printed time (RFC 822, ISO 8601, '2026-07-15 11:05:44  +0800', '2026年08月22日 09:15').

    Returns an aware UTC datetime, or None when the text is not a time this knows.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    parsed = _parse_numeric(text) or _parse_rfc822(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 9999 west of UTC, year 1 east of it: no such instant
        return None


def _parse_numeric(text: str) -> datetime | None:
    match = _NUMERIC_RE.match(text)
    if match is None:
        return None
    parts = {k: int(v) for k, v in match.groupdict().items() if v and k != "tz"}
    try:
        parsed = datetime(
            parts["y"],
            parts["mo"],
            parts["d"],
            parts.get("h", 0),
            parts.get("mi", 0),
            parts.get("s", 0),
        )
    except ValueError:
        return None
    zone = match["tz"]
    if zone is None:
        return parsed
    if zone.upper() in ("Z", "UTC", "GMT"):
        return parsed.replace(tzinfo=UTC)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return parsed.replace(tzinfo=timezone(sign * offset))


def _parse_rfc822(text: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    # RFC 2822: "-0000" is UTC written by a system that did not know its zone.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def from_timestamp(value: float | int | str) -> datetime | None:
    """A unix time in seconds or milliseconds (36kr prints ms) as aware UTC."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:  # milliseconds: 1e11 s is the year 5138
        number /= 1000
    if number <= 0:
        return None
    return datetime.fromtimestamp(number, UTC)


def date_from_path(url: str) -> date | None:
    """The date in a URL path like /20231018/4965423.shtml or /2023/10/18/…."""
    match = re.search(r"/(20\d{2})[/-]?([01]\d)[/-]?([0-3]\d)(?:/|[^\d])", url)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def to_iso(value: datetime | None) -> str | None:
    """UTC ISO-8601 with a Z, to the second: the form every time column holds."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def from_iso(value: str) -> datetime:
    """Read back a time written by to_iso."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def plausible(value: datetime | None, *, now: datetime) -> datetime | None:
    """A publication time, or None when it cannot be one (before the web, or in the future)."""
    if value is None or not EARLIEST <= value <= now + FUTURE_SLACK:
        return None
    return value


def beijing_time(value: str) -> datetime | None:
    """A stored UTC time in Beijing time; None for text that is no time. Never raises:
    readers show whatever an older version stored (year 9999 included)."""
    try:
        moment = from_iso(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(BEIJING)
    except OverflowError:  # the last hours of 9999 have no Beijing time: the latest there is
        return datetime.max.replace(tzinfo=BEIJING)


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


# Durations ('90s', '15m', '1h30m'): poll intervals, --since 7d, --max-failing 6h.
DURATION_RE = re.compile(r"(\d+)\s*([smhdw])")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Longer is a typo, and would overflow dates (now - 10^20 days): --since 100000d is fine.
LONGEST_DURATION = timedelta(days=1000 * 365)
DURATION_ONLY_RE = re.compile(r"\s*(?:\d+\s*[smhdw]\s*)+", re.IGNORECASE)
# A date without a time: --until takes the whole day.
DATE_ONLY_RE = re.compile(r"\s*\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?\s*")


def parse_duration(value: str) -> timedelta:
    """'90s', '15m', '2h', '1d', '1h30m' as a timedelta (ValueError otherwise)."""
    text = value.strip().lower()
    parts = DURATION_RE.findall(text)
    if not parts or DURATION_RE.sub("", text).strip():
        raise ValueError(f"{value!r} is not a duration; write e.g. '90s', '15m', '2h', '1d'")
    seconds = sum(int(n) * DURATION_UNITS[unit] for n, unit in parts)
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration")
    if seconds > LONGEST_DURATION.total_seconds():
        raise ValueError(f"{value!r} is longer than 1000 years")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """A duration as parse_duration reads it: '15m', '1h30m', '2d'."""
    seconds = round(value.total_seconds())
    parts = []
    for unit in "dhms":
        count, seconds = divmod(seconds, DURATION_UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_when(value: str, *, now: datetime, end_of_day: bool = False) -> datetime:
    """--since / --until: a duration back from now ('7d', '12h'), a date or a date and time.

    A time without an offset is Beijing time, as everywhere in followup (the sources print
    it); write Z or +00:00 for UTC. With end_of_day, a bare date means the end of that day.
    """
    try:
        return now - parse_duration(value)
    except ValueError:
        if DURATION_ONLY_RE.fullmatch(value):
            raise  # a duration, but not one that can be used: say why
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(
            f"{value!r} is not a date, a time or a duration; write e.g. 2026-11-20, "
            "'2026-11-20 08:00' (Beijing time), 2026-11-20T00:00Z (UTC) or 7d"
        )
    if end_of_day and DATE_ONLY_RE.fullmatch(value):
        return parsed + timedelta(days=1)
    return parsed
