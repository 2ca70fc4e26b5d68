"""Recorded copies of sites served on 127.0.0.1: the demo's sites and the tests' web.

Each mirrored host gets its own port, so pages keep their real paths and relative links. Links
to mirrored hosts inside served bodies (https://www.36kr.com/p/1, //www.36kr.com/…, and the
JSON-escaped https:\\/\\/…) are rewritten to the local address on the way out, so a recorded
page can be stored exactly as the site serves it. Pages answer conditional GETs (ETag,
Last-Modified → 304) and every request is logged for tests to inspect.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import tomllib
from dataclasses import dataclass, field, replace
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MANIFEST = "mirror.toml"
MANIFEST_KEYS = {
    "url",
    "file",
    "body",
    "type",
    "status",
    "delay",
    "trickle",
    "headers",
    "conditional",
}
# How often a serving thread checks for stop(); each host's server is stopped in turn, and at
# the default 0.5 s a test with seven hosts spent almost 2 s tearing its mirror down.
POLL_INTERVAL = 0.05


class MirrorError(ValueError):
    """A mirror manifest entry that cannot be served."""


@dataclass(frozen=True, slots=True)
class Page:
    """One recorded response."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    delay: float = 0.0  # seconds before answering: a slow or hanging server
    trickle: float = 0.0  # seconds between the body's bytes, sent one at a time: a stalling server
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True  # answer If-None-Match / If-Modified-Since with 304
    last_modified: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class Hit:
    """One request the mirror received."""

    url: str  # the real URL it stands for
    method: str
    status: int
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)  # when it was answered


@dataclass(frozen=True, slots=True)
class Gate:
    """A held URL: its requests wait unanswered until release() (or the mirror stops).

    A server that is slow for certain, however loaded the machine: tests hold a page, see
    that it was asked for (`arrived`), act, then let it answer.
    """

    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


class Mirror:
    """A set of recorded pages, keyed by their real URLs, served on local ports."""

    def __init__(self, pages: dict[str, Page] | None = None) -> None:
        self._pages: dict[tuple[str, str], Page] = {}
        # Answers served once each, in order, before the page itself (a 429, then the page).
        self._queued: dict[tuple[str, str], list[Page]] = {}
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._gates: dict[tuple[str, str], Gate] = {}
        self.hits: list[Hit] = []
        for url, page in (pages or {}).items():
            self.set_page(url, page)

    @classmethod
    def from_directory(cls, root: str | Path) -> Mirror:
        """Load every mirror.toml under root: [[page]] tables with url, file or body, type…

        Files are relative to the manifest that names them, so each site's recorded copy
        can live in a folder of its own.
        """
        manifests = sorted(Path(root).rglob(MANIFEST))
        if not manifests:
            raise MirrorError(f"no {MANIFEST} under {root}")
        mirror = cls()
        for manifest in manifests:
            with manifest.open("rb") as handle:
                entries = tomllib.load(handle).get("page", [])
            for index, entry in enumerate(entries, start=1):
                page = _page_from_entry(manifest.parent, entry, f"{manifest} [[page]] #{index}")
                mirror.set_page(entry.get("url", ""), page)
        return mirror

    # Pages ---------------------------------------------------------------------------------

    def set_page(self, url: str, page: Page) -> None:
        """Serve page at url (a real URL; its query string is ignored). Safe while running."""
        origin, path = _split(url)
        with self._lock:
            self._pages[(origin, path)] = page
        if self._servers and origin not in self._servers:
            self._start_host(origin)

    def queue_pages(self, url: str, pages: list[Page]) -> None:
        """Answer the next requests of url with these pages, one each, then with its page."""
        with self._lock:
            self._queued.setdefault(_split(url), []).extend(pages)

    def get_page(self, url: str) -> Page:
        return self._pages[_split(url)]

    def update_page(self, url: str, **changes: Any) -> None:
        """Change a served page (new body, status…); it counts as modified now."""
        self.set_page(url, replace(self.get_page(url), last_modified=time.time(), **changes))

    def hold(self, url: str) -> Gate:
        """Hold the answers to url (a real URL) until the returned gate is released."""
        gate = Gate()
        with self._lock:
            self._gates[_split(url)] = gate
        return gate

    @property
    def origins(self) -> list[str]:
        return sorted({origin for origin, _ in self._pages})

    # Serving -------------------------------------------------------------------------------

    def start(self) -> Mirror:
        for origin in self.origins:
            self._start_host(origin)
        return self

    def _start_host(self, origin: str) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, origin))
        server.daemon_threads = True
        self._servers[origin] = server
        threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"mirror {origin}",
            daemon=True,
        ).start()

    def stop(self) -> None:
        self._stopping.set()
        for gate in self._gates.values():
            gate.release()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> Mirror:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def local_origin(self, origin: str) -> str:
        port = self._servers[origin].server_address[1]
        return f"http://127.0.0.1:{port}"

    def url_for(self, url: str) -> str:
        """The local address serving a real URL."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        local = self.local_origin(self._origin_for_host(parts.netloc.lower()) or origin)
        return local + url[len(origin) :]

    def real_url(self, local_url: str) -> str:
        """The real URL a local address stands for (unchanged when it is not local)."""
        parts = urlsplit(local_url)
        for origin, server in self._servers.items():
            if parts.port == server.server_address[1]:
                return origin + local_url[len(f"{parts.scheme}://{parts.netloc}") :]
        return local_url

    def rewrite(self, body: bytes) -> bytes:
        """Point links to mirrored hosts at their local ports."""
        if not self._servers:
            return body
        return _link_re(tuple(self._servers)).sub(self._local_link, body)

    def _local_link(self, match: re.Match[bytes]) -> bytes:
        host = match["host"].decode("ascii").lower()
        origin = self._origin_for_host(host)
        if origin is None:
            return match[0]
        local = self.local_origin(origin).encode("ascii")
        return local.replace(b"/", b"\\/") if match["slashes"] == rb"\/\/" else local

    def _origin_for_host(self, host: str) -> str | None:
        for origin in self._servers:
            if urlsplit(origin).netloc == host:
                return origin
        return None

    def _lookup(self, origin: str, path: str) -> Page | None:
        with self._lock:
            if queued := self._queued.get((origin, path)):
                return queued.pop(0)
            return self._pages.get((origin, path))

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _pass_gate(self, origin: str, path: str) -> None:
        with self._lock:
            gate = self._gates.get((origin, path))
        if gate is not None:
            gate.arrived.set()
            gate.released.wait()


def _page_from_entry(root: Path, entry: dict[str, Any], where: str) -> Page:
    unknown = set(entry) - MANIFEST_KEYS
    if unknown or not entry.get("url"):
        raise MirrorError(f"{where}: needs 'url'; unknown keys: {sorted(unknown)}")
    if "file" in entry:
        body = (root / entry["file"]).read_bytes()
    else:
        body = str(entry.get("body", "")).encode("utf-8")
    return Page(
        body=body,
        content_type=entry.get("type", _guess_type(entry.get("file", ""))),
        status=int(entry.get("status", 200)),
        delay=float(entry.get("delay", 0)),
        trickle=float(entry.get("trickle", 0)),
        headers=dict(entry.get("headers", {})),
        conditional=bool(entry.get("conditional", True)),
    )


def _guess_type(name: str) -> str:
    suffix = Path(name).suffix
    return {
        ".xml": "application/rss+xml; charset=utf-8",
        ".json": "application/json; charset=utf-8",
        ".txt": "text/plain; charset=utf-8",
    }.get(suffix, "text/html; charset=utf-8")


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MirrorError(f"not an absolute http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}".lower(), parts.path or "/"


_LINK_RES: dict[tuple[str, ...], re.Pattern[bytes]] = {}


def _link_re(origins: tuple[str, ...]) -> re.Pattern[bytes]:
    if origins not in _LINK_RES:
        hosts = sorted({urlsplit(o).netloc for o in origins}, key=len, reverse=True)
        alternatives = b"|".join(re.escape(h.encode("ascii")) for h in hosts)
        _LINK_RES[origins] = re.compile(
            rb"(?:https?:)?(?P<slashes>//|\\/\\/)(?P<host>" + alternatives + rb")(?![\w.-])",
            re.IGNORECASE,
        )
    return _LINK_RES[origins]


def _make_handler(mirror: Mirror, origin: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _answer(self, *, send_body: bool) -> None:
            path = urlsplit(self.path).path or "/"
            mirror._pass_gate(origin, path)
            page = mirror._lookup(origin, path)
            if page is None:
                page = Page(
                    b"not found", "text/plain; charset=utf-8", status=404, conditional=False
                )
            if page.delay:
                mirror._wait(page.delay)
            body = mirror.rewrite(page.body)
            headers = {"Content-Type": page.content_type, **page.headers}
            status = page.status
            if page.conditional and status == 200:
                headers["ETag"] = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                headers["Last-Modified"] = formatdate(page.last_modified, usegmt=True)
                if self._not_modified(headers["ETag"], page.last_modified):
                    status, body = 304, b""
            mirror.hits.append(Hit(origin + self.path, self.command, status, dict(self.headers)))
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body and body:
                    self._send_body(body, page.trickle)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a timeout test): fine

        def _send_body(self, body: bytes, trickle: float) -> None:
            if not trickle:
                self.wfile.write(body)
                return
            for index in range(len(body)):
                if mirror._stopping.is_set():
                    self.close_connection = True
                    return
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
                mirror._wait(trickle)

        def _not_modified(self, etag: str, last_modified: float) -> bool:
            if (tag := self.headers.get("If-None-Match")) is not None:
                return etag in [t.strip() for t in tag.split(",")]
            since = self.headers.get("If-Modified-Since")
            if since:
                try:
                    return int(last_modified) <= parsedate_to_datetime(since).timestamp()
                except (TypeError, ValueError):
                    return False
            return False

        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests are in mirror.hits

    return Handler
