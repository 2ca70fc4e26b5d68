"""The real engines of a multi-machine setup, started on 127.0.0.1 for the tests that need
them: PostgreSQL from the system packages (initdb/pg_ctl as an unprivileged user) and Scrapyd
from PyPI. Each runs in its own temporary directory, on a free port, and is always stopped.

When PostgreSQL cannot start here, its tests are skipped with the reason — unless
FOLLOWUP_REQUIRE_POSTGRES=1 (set by .ci/run once it has installed PostgreSQL): then they fail,
so that a machine able to run them never passes without having run them.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from tests.helpers import WAIT_CEILING, PortTaken, on_free_port, reaped, wait_until

REQUIRE_POSTGRES = "FOLLOWUP_REQUIRE_POSTGRES"
# The system user that runs PostgreSQL when the tests run as root (it refuses to run as root);
# Debian's postgresql package creates it.
POSTGRES_USER = "postgres"
# The database role the tests connect as; initdb makes it the superuser.
SUPERUSER = "followup"


class ServiceUnavailable(RuntimeError):
    """A real component that cannot start on this machine; the message says why."""


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """A running PostgreSQL cluster."""

    port: int
    directory: Path

    def url(self, database: str = "postgres", *, user: str = SUPERUSER) -> str:
        """A postgresql:// URL of one of its databases."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"


def postgres_bindir() -> Path:
    """Where initdb and pg_ctl are: pg_config's bindir, else Debian's newest version."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if found.returncode == 0 and (Path(found.stdout.strip()) / "initdb").exists():
            return Path(found.stdout.strip())
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if debian:
        return Path(debian[-1]).parent
    if shutil.which("initdb"):
        return Path(str(shutil.which("initdb"))).resolve().parent
    raise ServiceUnavailable(
        "PostgreSQL is not installed (no initdb); install the Debian package postgresql"
    )


def _version_key(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


def _server_account() -> pwd.struct_passwd:
    """The account PostgreSQL runs as: this one, or the postgres user when this is root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        raise ServiceUnavailable(
            f"running as root and there is no {POSTGRES_USER!r} user to run PostgreSQL as; "
            "install the Debian package postgresql (it creates that user)"
        ) from None


def _run_as(account: pwd.struct_passwd, command: list[str], *, cwd: Path) -> None:
    switch = {"user": account.pw_uid, "group": account.pw_gid} if os.geteuid() == 0 else {}
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=WAIT_CEILING,
        env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
        check=False,
        extra_groups=[] if switch else None,
        **switch,  # type: ignore[arg-type]
    )
    if result.returncode != 0:
        raise ServiceUnavailable(
            f"{Path(command[0]).name} failed (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        )


@contextmanager
def running_postgres(*, ports: Iterator[int] | None = None) -> Iterator[PostgresServer]:
    """A fresh cluster (UTF-8 locale, so that pg_trgm sees Chinese text), stopped on exit.

    It listens on 127.0.0.1 (the tests and the README use postgresql://…@127.0.0.1:PORT URLs),
    and PostgreSQL takes no port 0: it starts on a port free a moment before, and on another
    when that one was taken meanwhile (ports: the ones to try, for a test)."""
    with _new_cluster(ports=ports) as cluster:
        yield cluster.server


@dataclass(frozen=True, slots=True)
class PostgresCluster:
    """A cluster of one test's own, which the test stops and starts again on its port (a
    restart: the session server is shared by other tests)."""

    server: PostgresServer
    account: pwd.struct_passwd
    bindir: Path

    def stop(self) -> None:
        """`pg_ctl stop -m fast`, as an upgrade or an operator does: every session is ended
        (admin_shutdown) and the port refuses connections."""
        _pg_ctl_stop(self.account, self.bindir, self.server.directory)

    def start(self) -> None:
        """Started again on the same port (PortTaken if another process bound it meanwhile)."""
        _pg_ctl_start(self.account, self.bindir, self.server.directory, self.server.port)


@contextmanager
def restartable_postgres() -> Iterator[PostgresCluster]:
    """A fresh cluster of the test's own, stopped on exit whatever state the test left it in
    (skipped, or failed when required, when PostgreSQL cannot start here)."""
    try:
        with _new_cluster() as cluster:
            yield cluster
    except ServiceUnavailable as exc:
        postgres_unavailable(exc)


@contextmanager
def _new_cluster(*, ports: Iterator[int] | None = None) -> Iterator[PostgresCluster]:
    account, bindir = _server_account(), postgres_bindir()
    directory = Path(tempfile.mkdtemp(prefix="followup-pg-"))
    try:
        if os.geteuid() == 0:
            os.chown(directory, account.pw_uid, account.pw_gid)
        _run_as(
            account,
            [
                str(bindir / "initdb"),
                *("-D", str(directory / "data"), "--locale=C.UTF-8", "-E", "UTF8"),
                *("-U", SUPERUSER, "--auth=trust"),
            ],
            cwd=directory,
        )
        start = lambda port: _postgres_on(account, bindir, directory, port)  # noqa: E731
        with on_free_port(start, "PostgreSQL", ports=ports) as server:
            yield PostgresCluster(server, account, bindir)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _postgres_on(
    account: pwd.struct_passwd, bindir: Path, directory: Path, port: int
) -> Iterator[PostgresServer]:
    """The cluster in directory started on port, or PortTaken when another process holds it."""
    _pg_ctl_start(account, bindir, directory, port)
    try:
        yield PostgresServer(port, directory)
    finally:
        if (directory / "data" / "postmaster.pid").exists():  # not left stopped by its test
            _pg_ctl_stop(account, bindir, directory)


def _pg_ctl_start(account: pwd.struct_passwd, bindir: Path, directory: Path, port: int) -> None:
    log = directory / "server.log"
    logged = log.stat().st_size if log.exists() else 0
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {directory}"
    command = [*_pg_ctl(bindir, directory), "-o", options, "-l", str(log), "start"]
    try:
        _run_as(account, command, cwd=directory)
    except ServiceUnavailable:
        with log.open(encoding="utf-8", errors="replace") as text:
            text.seek(logged)
            taken = [line for line in text if "Address already in use" in line]
        if taken:
            raise PortTaken(taken[0].strip()) from None
        raise


def _pg_ctl_stop(account: pwd.struct_passwd, bindir: Path, directory: Path) -> None:
    _run_as(account, [*_pg_ctl(bindir, directory), "-m", "fast", "stop"], cwd=directory)


def _pg_ctl(bindir: Path, directory: Path) -> list[str]:
    """pg_ctl on the cluster, waiting (-w) until it has started or stopped, within the ceiling."""
    return [
        str(bindir / "pg_ctl"),
        "-D",
        str(directory / "data"),
        "-w",
        "-t",
        str(int(WAIT_CEILING)),
    ]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this test session (skipped, or failed when required, when it
    cannot start)."""
    try:
        with running_postgres() as server:
            yield server
    except ServiceUnavailable as exc:
        postgres_unavailable(exc)


def postgres_unavailable(exc: ServiceUnavailable) -> NoReturn:
    """Skip, saying why — or fail where PostgreSQL is required (.ci/run, once installed)."""
    if os.environ.get(REQUIRE_POSTGRES) == "1":
        pytest.fail(f"PostgreSQL is required ({REQUIRE_POSTGRES}=1) but {exc}")
    pytest.skip(f"PostgreSQL tests skipped: {exc}")


@dataclass(frozen=True, slots=True)
class ScrapydServer:
    """A running Scrapyd with the installed followup project."""

    url: str
    directory: Path


# Scrapyd runs the project installed in this environment, no egg: the scrapy.cfg in its
# working directory names the project's settings module, for Scrapyd and for the Scrapy
# processes it starts (listspiders.json included).
SCRAPY_CFG = "[settings]\nfollowup = crawler.settings\n"
SCRAPYD_CONF = """\
[scrapyd]
bind_address = 127.0.0.1
http_port = {port}
poll_interval = 0.2
max_proc = 4
eggs_dir = {directory}/eggs
logs_dir = {directory}/logs
dbs_dir = {directory}/dbs
items_dir =
jobs_to_keep = 20
{auth}"""


@contextmanager
def running_scrapyd(
    *, username: str = "", password: str = "", ports: Iterator[int] | None = None
) -> Iterator[ScrapydServer]:
    """Scrapyd on a free port in its own directory, stopped (and reaped) on exit. Scrapyd takes
    no port 0 (it then listens on none), so it starts on a port free a moment before, and on
    another when that one was taken meanwhile (ports: the ones to try, for a test)."""
    with tempfile.TemporaryDirectory(prefix="followup-scrapyd-") as name:
        directory = Path(name)
        auth = f"username = {username}\npassword = {password}\n" if username else ""
        (directory / "scrapy.cfg").write_text(SCRAPY_CFG, encoding="utf-8")
        start = lambda port: _scrapyd_on(directory, port, auth)  # noqa: E731
        with on_free_port(start, "Scrapyd", ports=ports) as server:
            yield server


@contextmanager
def _scrapyd_on(directory: Path, port: int, auth: str) -> Iterator[ScrapydServer]:
    """Scrapyd listening on port, or PortTaken when another process holds it."""
    (directory / "scrapyd.conf").write_text(
        SCRAPYD_CONF.format(port=port, directory=directory, auth=auth), encoding="utf-8"
    )
    output = directory / "scrapyd.out"
    with output.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scrapyd", "--pidfile", str(directory / "scrapyd.pid")],
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    with reaped(process):
        server = ScrapydServer(f"http://127.0.0.1:{port}", directory)
        # Twisted says so once the port is its own: only then can an answer not come from
        # another server that took the port first.
        listening = f"Site starting on {port}\n"
        wait_until(lambda: _listens(output, listening, process), "Scrapyd to listen")
        wait_until(lambda: _answers(server, process), "Scrapyd to answer daemonstatus.json")
        yield server


def _listens(output: Path, line: str, process: subprocess.Popen[str]) -> bool:
    if line in output.read_text(encoding="utf-8"):
        return True
    if process.poll() is None:
        return False
    text = output.read_text(encoding="utf-8")
    if "Address already in use" in text:
        raise PortTaken(text.strip().splitlines()[-1])
    raise AssertionError(f"Scrapyd exited ({process.returncode}): {text[-2000:]}")


def _answers(server: ScrapydServer, process: subprocess.Popen[str]) -> bool:
    if process.poll() is not None:
        output = (server.directory / "scrapyd.out").read_text(encoding="utf-8")
        raise AssertionError(f"Scrapyd exited ({process.returncode}): {output[-2000:]}")
    try:
        with urllib.request.urlopen(f"{server.url}/daemonstatus.json", timeout=5) as response:
            return json.load(response).get("status") == "ok"
    except urllib.error.HTTPError as exc:
        return exc.code == 401  # up, with basic auth on
    except (urllib.error.URLError, OSError):
        return False
