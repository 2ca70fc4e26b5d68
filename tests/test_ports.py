"""The servers the tests start cannot lose a port race with another suite on the machine.

Scrapyd and PostgreSQL take no port 0: they start on a port free a moment before and, when
another process took it meanwhile, on another (tests.helpers.on_free_port). Each test here
gives the server a first port that another server holds, as a second suite would, and checks
that the server still comes up, on a port of its own.
"""

from __future__ import annotations

import errno
import itertools
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.helpers import NoPortLeft, PortTaken, free_ports, on_free_port
from tests.services import (
    ServiceUnavailable,
    postgres_unavailable,
    running_postgres,
    running_scrapyd,
)


@contextmanager
def listening_on(port: int) -> Iterator[socket.socket]:
    """A listening socket on 127.0.0.1:port, or PortTaken."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(str(exc)) from None
        raise
    with sock:
        sock.listen()
        yield sock


@contextmanager
def impostor() -> Iterator[int]:
    """Another suite's server on a port of its own: it answers every GET as a healthy Scrapyd."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "node_name": "impostor"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_taken_port_is_skipped_for_the_next_free_one() -> None:
    with listening_on(0) as held:
        taken = held.getsockname()[1]
        ports = itertools.chain([taken], free_ports())
        with on_free_port(listening_on, "a test server", ports=ports) as sock:
            assert sock.getsockname()[1] != taken
            with socket.create_connection(sock.getsockname(), timeout=60):
                pass


def test_when_every_port_is_taken_the_error_names_the_server() -> None:
    with listening_on(0) as held:
        taken = held.getsockname()[1]
        with (
            pytest.raises(NoPortLeft, match=rf"^a test server could not listen .*{taken}") as exc,
            on_free_port(listening_on, "a test server", ports=itertools.repeat(taken)),
        ):
            pass
    assert str(exc.value).count(f"{taken} (") == 5  # every attempt named


def test_scrapyd_comes_up_when_another_server_holds_its_first_port() -> None:
    pytest.importorskip("scrapyd", reason="scrapyd is in the [nodes] extra")
    with impostor() as taken:
        ports = itertools.chain([taken], free_ports())
        with running_scrapyd(ports=ports) as scrapyd:
            assert not scrapyd.url.endswith(f":{taken}")
            with urllib.request.urlopen(f"{scrapyd.url}/daemonstatus.json", timeout=60) as r:
                status = json.load(r)
    # Scrapyd's own answer, not the impostor's (which answered on the first port).
    assert status["status"] == "ok" and status["node_name"] != "impostor"


def test_postgres_comes_up_when_another_server_holds_its_first_port() -> None:
    psycopg = pytest.importorskip("psycopg", reason="psycopg is in the [postgres] extra")
    with listening_on(0) as held:
        taken = held.getsockname()[1]
        try:
            with running_postgres(ports=itertools.chain([taken], free_ports())) as server:
                assert server.port != taken
                with psycopg.connect(server.url(), autocommit=True) as conn:
                    row = conn.execute("SELECT inet_server_port()").fetchone()
        except ServiceUnavailable as exc:
            postgres_unavailable(exc)
    assert row == (server.port,)
