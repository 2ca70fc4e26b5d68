"""Real notification receivers on 127.0.0.1 for the notify tests: a JSON webhook that
records what it got (Apprise's json://) and an SMTP server (aiosmtpd, for mailto://)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.helpers import WAIT_CEILING

ID_RE = re.compile(r"#(\d+)")


def row_ids(message: str) -> list[int]:
    """The outbox row ids a message delivers (its last line, "followup #3 #4")."""
    last = message.rstrip().splitlines()[-1]
    return [int(n) for n in ID_RE.findall(last)] if last.startswith("followup #") else []


class Webhook:
    """A JSON webhook: records each POSTed payload and answers with the next queued status
    (200 once the queue is empty)."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[int, dict[str, Any]]] = []  # (status answered, payload)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def url(self, path: str = "/hook") -> str:
        return f"json://127.0.0.1:{self.server.server_port}{path}"

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """Payloads answered with 2xx, each delivered message once (deduplicated by row ids,
        as the README tells a receiver to)."""
        with self.lock:
            ok = [payload for status, payload in self.requests if 200 <= status < 300]
        seen: set[tuple[int, ...]] = set()
        unique = []
        for payload in ok:
            key = tuple(row_ids(payload["message"])) or (id(payload),)
            if key not in seen:
                seen.add(key)
                unique.append(payload)
        return unique

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with webhook.lock:
                    status = webhook.statuses.pop(0) if webhook.statuses else 200
                    webhook.requests.append((status, json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


class _AnyPortController(Controller):
    """aiosmtpd's Controller on port 0: the system picks a free port as it binds, so no other
    process can take it first. aiosmtpd 1.4 binds port 0 but then connects to port 0 to wake
    its server; this learns the bound port before that connection."""

    def _trigger_server(self) -> None:
        assert self.server is not None and self.server.sockets
        self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()


class MailServer:
    """An SMTP server on 127.0.0.1 keeping every message it accepts."""

    def __init__(self) -> None:
        self.mailbox = _Mailbox()
        # aiosmtpd's default ready_timeout (5 s) is a budget a loaded machine may miss.
        self.controller = _AnyPortController(
            self.mailbox, hostname="127.0.0.1", port=0, ready_timeout=WAIT_CEILING
        )

    def __enter__(self) -> MailServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def url(self, *, to: str = "desk@example.com") -> str:
        port = self.controller.port
        return f"mailto://127.0.0.1:{port}?from=followup@example.com&to={to}&mode=insecure"

    @property
    def messages(self) -> list[Any]:
        return list(self.mailbox.messages)


def readme_section(title: str = "## Notifications") -> str:
    """The README's section with this heading, up to the next one."""
    text = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n{title}\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def readme_blocks(language: str) -> list[str]:
    """The ```language code blocks of the Notifications section."""
    return re.findall(rf"```{language}\n(.*?)```", readme_section(), re.S)
