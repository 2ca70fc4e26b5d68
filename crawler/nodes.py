"""Crawl nodes: a small client of Scrapyd's JSON API (schedule, cancel, list jobs, status).

Scrapyd runs the followup spider of the project installed on the node (see README, "Crawl
nodes"). It reports no exit status: what a job did is read from the store's crawl_runs.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from crawler.config import Node
from crawler.report import source_failed
from crawler.store import open_readonly

logger = logging.getLogger(__name__)

# Scrapyd answers in milliseconds; a node that takes this long is as good as down.
REQUEST_TIMEOUT = 30.0
JOB_STATES = ("pending", "running", "finished")
# How often a job is looked at while it runs; how long a cancelled job may take to close and
# record its run (Scrapyd sends it SIGINT, Scrapy's graceful stop) before it is killed — the
# daemon's --grace default; and how long a killed job may take to leave the running list.
WATCH_INTERVAL = 1.0
CANCEL_GRACE = 45.0
KILL_WAIT = 120.0
SPIDER = "followup"
# Bytes of a job's log read for its last error line.
LOG_TAIL_BYTES = 65536


class NodeError(RuntimeError):
    """A node that cannot be reached or refused a request; the message names node and URL."""


@dataclass(frozen=True, slots=True)
class Job:
    """One Scrapyd job of the node's project, as listjobs.json reports it."""

    id: str
    spider: str
    state: str  # pending, running or finished
    start_time: str | None = None
    end_time: str | None = None
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A node's answer to daemonstatus.json plus its project's jobs."""

    node: Node
    jobs: tuple[Job, ...] = ()
    error: str | None = None  # why the node could not be asked; None: it is up

    @property
    def up(self) -> bool:
        return self.error is None


class ScrapydClient:
    """Scrapyd's JSON API on one node, with its basic auth from the environment."""

    def __init__(self, node: Node, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.node, self.timeout = node, timeout

    def daemon_status(self) -> dict[str, Any]:
        """Counts of pending, running and finished jobs (the node is up when this answers)."""
        return self._call("daemonstatus.json")

    def schedule(
        self,
        spider: str,
        *,
        job_id: str | None = None,
        settings: Mapping[str, str] | None = None,
        arguments: Mapping[str, str] | None = None,
    ) -> str:
        """Schedule a run of the project's spider; its job id."""
        fields: list[tuple[str, str]] = [("project", self.node.project), ("spider", spider)]
        if job_id:
            fields.append(("jobid", job_id))
        fields += [("setting", f"{name}={value}") for name, value in (settings or {}).items()]
        fields += list((arguments or {}).items())
        return str(self._call("schedule.json", fields)["jobid"])

    def cancel(self, job_id: str, *, signal: str = "INT") -> str:
        """Cancel a pending or running job (a running one gets signal); the state it was in."""
        form = [("project", self.node.project), ("job", job_id), ("signal", signal)]
        return str(self._call("cancel.json", form).get("prevstate"))

    def list_jobs(self) -> list[Job]:
        """The project's pending, running and finished jobs."""
        answer = self._call("listjobs.json", query={"project": self.node.project})
        return [parse_job(raw, state) for state in JOB_STATES for raw in answer.get(state, [])]

    def get_log_tail(self, job_id: str, *, spider: str = SPIDER) -> str:
        """The end of the job's log (the node's logs_dir), or "" when the node keeps none."""
        url = f"{self.node.url}/logs/{self.node.project}/{spider}/{job_id}.log"
        headers = {**self._headers(), "Range": f"bytes=-{LOG_TAIL_BYTES}"}
        try:
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return bytes(response.read()).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError):
            return ""  # the log only adds the error line; the run's figures are in the store

    def _call(
        self,
        endpoint: str,
        form: list[tuple[str, str]] | None = None,
        *,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        url = f"{self.node.url}/{endpoint}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, headers=self._headers())
        answer = self._fetch(request, url)
        if answer.get("status") != "ok":
            raise NodeError(f"node {self.node.id} ({url}): {_message(answer)}")
        return answer

    def _fetch(self, request: urllib.request.Request, url: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:
            hint = " (check the user:password in the node's auth_env)" if exc.code == 401 else ""
            raise NodeError(f"node {self.node.id} ({url}): HTTP {exc.code}{hint}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NodeError(f"node {self.node.id} ({url}) is down: {reason}") from None
        except ValueError:
            raise NodeError(f"node {self.node.id} ({url}): not a Scrapyd JSON answer") from None
        if not isinstance(answer, dict):
            raise NodeError(f"node {self.node.id} ({url}): not a Scrapyd JSON answer")
        return answer

    def _headers(self) -> dict[str, str]:
        if self.node.auth_env is None:
            return {}
        credentials = os.environ.get(self.node.auth_env, "")
        if ":" not in credentials:
            raise NodeError(
                f"node {self.node.id}: set the environment variable {self.node.auth_env} "
                "to user:password for its Scrapyd (nodes.toml, key 'auth_env')"
            )
        token = base64.b64encode(credentials.encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}


def parse_job(raw: Mapping[str, Any], state: str) -> Job:
    """One entry of listjobs.json as a Job."""
    pid = raw.get("pid")
    return Job(
        id=str(raw.get("id", "")),
        spider=str(raw.get("spider", "")),
        state=state,
        start_time=_text(raw.get("start_time")),
        end_time=_text(raw.get("end_time")),
        pid=pid if isinstance(pid, int) else None,
    )


def get_node_status(node: Node, *, timeout: float = REQUEST_TIMEOUT) -> NodeStatus:
    """The node's jobs, or why it could not be asked."""
    client = ScrapydClient(node, timeout=timeout)
    try:
        client.daemon_status()
        return NodeStatus(node, tuple(client.list_jobs()))
    except NodeError as exc:
        return NodeStatus(node, error=str(exc))


def format_node_status(
    status: NodeStatus, runs: Mapping[str, Mapping[str, Any]] | None = None
) -> list[str]:
    """Lines for `followup nodes`: the node, then one line per job (with the run it recorded,
    from runs: job id → get_job_runs' entry)."""
    node = status.node
    if status.error is not None:
        return [f"{node.id}  {node.url}  DOWN  {status.error}"]
    counts = ", ".join(f"{sum(j.state == s for j in status.jobs)} {s}" for s in JOB_STATES)
    lines = [f"{node.id}  {node.url}  up  {counts}"]
    for job in status.jobs:
        when = job.end_time or job.start_time or ""
        run = (runs or {}).get(job.id)
        recorded = f"  run {run['id']}: {run['new']} new, {run['reason']}" if run else ""
        lines.append(f"  {job.state:<8}  {job.id}  {job.spider}  {when}{recorded}".rstrip())
    return lines


def node_status_json(
    status: NodeStatus, runs: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """A node's status as `followup nodes --json` prints it."""
    return {
        "id": status.node.id,
        "url": status.node.url,
        "up": status.up,
        "error": status.error,
        "jobs": [
            {
                "id": job.id,
                "spider": job.spider,
                "state": job.state,
                "start_time": job.start_time,
                "end_time": job.end_time,
                "run": (runs or {}).get(job.id),
            }
            for job in status.jobs
        ],
    }


def _message(answer: Mapping[str, Any]) -> str:
    message = str(answer.get("message", "")).strip().splitlines()
    return message[0] if message else f"Scrapyd answered {answer!r}"


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


# Running one source's crawl on its node ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeRun:
    """What a source's job on its node did, read from crawl_runs (Scrapyd has no exit status)."""

    node: str
    source: str
    job_id: str | None
    stats: dict[str, Any] | None = None  # the run's crawl_runs.stats; None: it left no run
    error: str | None = None  # the node was down, refused, or the job was cancelled
    run_id: int | None = None  # its crawl_runs row

    @property
    def failed(self) -> bool:
        return self.error is not None or self.stats is None

    @property
    def ok(self) -> bool:
        """The job recorded a run in which its source was read."""
        figures = (self.stats or {}).get("sources", {}).get(self.source)
        return not self.failed and figures is not None and not source_failed(figures)


def job_id_for(source_id: str, now: datetime) -> str:
    """A Scrapyd job id that says which source it crawls and when it was scheduled."""
    return f"{source_id}-{now:%Y%m%dT%H%M%S}"


def crawl_settings(node: Node, *, seeds_dir: str | Path, db: str | Path) -> dict[str, str]:
    """The settings a job of the node needs: its seeds directory and the store to write to."""
    return {"FOLLOWUP_SEEDS": node.seeds or str(seeds_dir), "FOLLOWUP_DB": str(db)}


def schedule_crawl(
    client: ScrapydClient, source_id: str, *, settings: Mapping[str, str], now: datetime
) -> str:
    """Schedule a crawl of one source on the node; its job id."""
    return client.schedule(
        SPIDER,
        job_id=job_id_for(source_id, now),
        settings=settings,
        arguments={"source": source_id},
    )


def get_unfinished_job(client: ScrapydClient, source_id: str) -> str | None:
    """A pending or running job of the source (one a daemon killed with -9 left behind)."""
    prefix = f"{source_id}-"  # source ids have no "-": job ids of "a" never begin "a_b-"
    jobs = client.list_jobs()
    return next((j.id for j in jobs if j.state != "finished" and j.id.startswith(prefix)), None)


def watch_job(
    client: ScrapydClient,
    job_id: str,
    *,
    signal: Callable[[], str | None],
    interval: float = WATCH_INTERVAL,
) -> None:
    """Wait for the job to end, cancelling it with each signal that signal() asks for ("INT",
    then "KILL"), once each. NodeError: the node failed, or the job outlived its SIGKILL."""
    sent: set[str] = set()
    killed_at: float | None = None
    while (state := _job_state(client, job_id)) != "finished":
        if state is None:  # a job cancelled while pending leaves the list instead of finishing
            if sent:
                return
            raise NodeError(f"node {client.node.id}: job {job_id} is gone (was Scrapyd restarted?)")
        wanted = signal()
        if wanted is not None and wanted not in sent:
            was = client.cancel(job_id, signal=wanted)
            sent.add(wanted)
            # Logged once the node has it: tests wait for this line before a held page answers.
            logger.info(
                "node %s: job %s (%s) cancelled with SIG%s", client.node.id, job_id, was, wanted
            )
            killed_at = time.monotonic() if wanted == "KILL" else killed_at
        if killed_at is not None and time.monotonic() > killed_at + KILL_WAIT:
            raise NodeError(
                f"node {client.node.id}: job {job_id} still {state} {KILL_WAIT:g} s after SIGKILL"
            )
        time.sleep(interval)


class JobDeadline:
    """When run_on_node cancels its job: SIGINT past the timeout or once stopping() says so
    (Scrapy's graceful stop), SIGKILL grace seconds later."""

    def __init__(self, *, timeout: float, stopping: Callable[[], bool], grace: float) -> None:
        self.timeout, self.stopping, self.grace = timeout, stopping, grace
        self.deadline = time.monotonic() + timeout
        self.why: str | None = None  # why it was cancelled; None: it was not
        self._asked_at = 0.0

    def signal(self) -> str | None:
        now = time.monotonic()
        if self.why is None:
            if self.stopping():
                self.why = "the daemon is stopping"
            elif now > self.deadline:
                self.why = f"--timeout ({self.timeout:g} s)"
            else:
                return None
            self._asked_at = now
        return "KILL" if now > self._asked_at + self.grace else "INT"


def run_on_node(
    client: ScrapydClient,
    source_id: str,
    *,
    db_path: str | Path,
    settings: Mapping[str, str],
    now: datetime,
    timeout: float,
    stopping: Callable[[], bool] = lambda: False,
    grace: float = CANCEL_GRACE,
    interval: float = WATCH_INTERVAL,
) -> NodeRun:
    """Crawl one source on its node and wait for it: cancelled after timeout seconds or when
    stopping() says so. settings must name the node's FOLLOWUP_SEEDS and FOLLOWUP_DB, a store
    that db_path (an existing database) reads too. A node down is the source's failure."""
    after = get_last_run_id(db_path)  # the node's run is a later one in the store
    deadline = JobDeadline(timeout=timeout, stopping=stopping, grace=grace)
    try:
        job_id = schedule_crawl(client, source_id, settings=settings, now=now)
        watch_job(client, job_id, signal=deadline.signal, interval=interval)
    except NodeError as exc:
        return NodeRun(client.node.id, source_id, None, error=str(exc))
    cancelled = deadline.why and f"node {client.node.id}: job {job_id} cancelled: {deadline.why}"
    return get_node_run(db_path, client.node, source_id, job_id, after=after, error=cancelled)


def get_node_run(
    db_path: str | Path,
    node: Node,
    source_id: str,
    job_id: str,
    *,
    after: int,
    error: str | None = None,
) -> NodeRun:
    """What the ended job recorded in crawl_runs, found by its job id after run id `after`."""
    found = get_job_run(db_path, job_id, after=after)
    if found is None and error is None:
        error = (
            f"node {node.id}: job {job_id} ended without recording a run; see its Scrapyd log "
            "(a node running a followup older than the daemon's records no job id: upgrade it)"
        )
    run_id, stats = found or (None, None)
    return NodeRun(node.id, source_id, job_id, stats, error, run_id)


def _job_state(client: ScrapydClient, job_id: str) -> str | None:
    """pending, running, finished, or None when the node does not list the job."""
    return next((job.state for job in client.list_jobs() if job.id == job_id), None)


def get_last_run_id(db_path: str | Path) -> int:
    """The newest crawl_runs id (0 for none), of a SQLite file or a PostgreSQL store."""
    db = open_readonly(db_path)
    try:
        return int(next(db.query("SELECT coalesce(max(id), 0) AS id FROM crawl_runs"))["id"])
    finally:
        db.close()


def get_job_run(
    db_path: str | Path, job_id: str, *, after: int
) -> tuple[int, dict[str, Any]] | None:
    """The id and stats of the finished run the Scrapyd job recorded after run id `after`."""
    db = open_readonly(db_path)
    try:
        rows = db.query(
            "SELECT id, stats FROM crawl_runs WHERE id > ? AND job = ? AND stats IS NOT NULL "
            "ORDER BY id LIMIT 1",
            [after, job_id],
        )
        row = next(rows, None)
    finally:
        db.close()
    return (int(row["id"]), json.loads(row["stats"])) if row else None


def has_job_column(db: Database) -> bool:
    """Whether crawl_runs records jobs (m011_nodes; a reader opens older files unmigrated)."""
    if not isinstance(db, Database):  # a PostgreSQL store (crawler.postgres)
        found = db.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = 'crawl_runs' AND column_name = 'job'"
        )
        return found.fetchone() is not None
    return "job" in db["crawl_runs"].columns_dict


def get_job_runs(db: Database, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The finished run each of these Scrapyd jobs recorded: id, reason and new articles."""
    wanted = list(job_ids)
    if not wanted or not has_job_column(db):
        return {}
    marks = ", ".join("?" * len(wanted))
    rows = db.query(
        f"SELECT id, job, stats FROM crawl_runs WHERE job IN ({marks}) AND stats IS NOT NULL",
        wanted,
    )
    return {row["job"]: _job_run(row["id"], json.loads(row["stats"])) for row in rows}


def _job_run(run_id: int, stats: Mapping[str, Any]) -> dict[str, Any]:
    figures = stats.get("sources", {}).values()
    new = sum(int(f.get("new", 0)) for f in figures)
    return {"id": run_id, "reason": stats.get("reason"), "new": new}


def get_run_jobs(db: Database, run_ids: Iterable[int]) -> dict[int, str]:
    """The Scrapyd job of each of these runs that a node made (run id → job id)."""
    wanted = list(run_ids)
    if not wanted or not has_job_column(db):
        return {}
    marks = ", ".join("?" * len(wanted))
    sql = f"SELECT id, job FROM crawl_runs WHERE id IN ({marks}) AND job IS NOT NULL"
    return {int(row["id"]): str(row["job"]) for row in db.query(sql, wanted)}
