"""What the daemon and its crawl workers say to each other: one JSON object per line.

To a worker (its stdin): `{"crawl": ID}` starts a crawl of source ID; `{"stop": ID,
"reason": WHY}` asks that crawl to stop gracefully. End of input: no more crawls; the worker
ends once its running crawls have.

From a worker (its stdout), one line per crawl when it ends: `{"source": ID, "returncode":
0 or 1, "summary": {run_id, sources} or null, "errors": [last error lines], "rss_mb": N}`,
or `{"source": ID, "busy": true}` when another process crawls that source already.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Error lines of a crawl kept for its report (the daemon keeps the last one).
ERRORS_KEPT = 5


class ProtocolError(ValueError):
    """A line that is not a message of this protocol."""


@dataclass(frozen=True, slots=True)
class CrawlReport:
    """One crawl's end as its worker reported it."""

    source: str
    returncode: int = 0
    summary: dict[str, Any] | None = None
    errors: tuple[str, ...] = ()
    rss_mb: float = 0.0
    busy: bool = False  # another process crawls the source now: not crawled
    lost: bool = False  # the worker died before reporting (set by the daemon, never sent)
    # A child crawl's raw output and log (--workers 0), in place of summary and errors.
    output: str | None = None
    log: str | None = None

    @property
    def stdout(self) -> str:
        """The summary as `followup crawl --json` prints it (what polling.read_run reads)."""
        if self.output is not None:
            return self.output
        return json.dumps(self.summary) if self.summary is not None else ""

    @property
    def stderr(self) -> str:
        return self.log if self.log is not None else "\n".join(self.errors)


@dataclass(frozen=True, slots=True)
class Command:
    """A request to a worker: crawl a source, or stop its crawl."""

    source: str
    stop_reason: str | None = None  # None: start it


def encode_crawl(source: str) -> bytes:
    return _line({"crawl": source})


def encode_stop(source: str, reason: str) -> bytes:
    return _line({"stop": source, "reason": reason})


def encode_report(report: CrawlReport) -> bytes:
    if report.busy:
        return _line({"source": report.source, "busy": True})
    return _line(
        {
            "source": report.source,
            "returncode": report.returncode,
            "summary": report.summary,
            "errors": list(report.errors[-ERRORS_KEPT:]),
            "rss_mb": round(report.rss_mb, 1),
        }
    )


def parse_command(line: bytes | str) -> Command:
    message = _parse(line)
    if isinstance(message.get("crawl"), str):
        return Command(message["crawl"])
    if isinstance(message.get("stop"), str):
        return Command(message["stop"], stop_reason=str(message.get("reason") or "stopped"))
    raise ProtocolError(f"not a worker command: {line!r}")


def parse_report(line: bytes | str) -> CrawlReport:
    message = _parse(line)
    source = message.get("source")
    if not isinstance(source, str):
        raise ProtocolError(f"not a crawl report: {line!r}")
    if message.get("busy"):
        return CrawlReport(source, busy=True)
    summary = message.get("summary")
    return CrawlReport(
        source,
        returncode=int(message.get("returncode", 1)),
        summary=summary if isinstance(summary, dict) else None,
        errors=tuple(str(e) for e in message.get("errors") or ()),
        rss_mb=float(message.get("rss_mb", 0.0)),
    )


def _parse(line: bytes | str) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        raise ProtocolError(f"not JSON: {line!r}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"not a JSON object: {line!r}")
    return message


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
