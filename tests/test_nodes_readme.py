"""The README's Crawl nodes examples, run: its nodes.toml loads, its node setup is the one the
tests' Scrapyd runs, and its `followup nodes` output is what the command prints."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from crawler.config import Node, load_nodes
from crawler.nodes import Job, NodeStatus, format_node_status, get_node_status
from tests.helpers import refused_port
from tests.notify_receivers import readme_section
from tests.services import SCRAPY_CFG

SECTION = "## Crawl nodes (Scrapyd)"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", readme_section(SECTION), re.S)


def test_the_readme_nodes_toml_loads(tmp_path: Path) -> None:
    (toml,) = blocks("toml")
    (tmp_path / "nodes.toml").write_text(toml, encoding="utf-8")
    assert load_nodes(tmp_path) == (
        Node("cn", "http://10.0.8.20:6800", auth_env="SCRAPYD_CN_AUTH"),
    )


def test_the_readme_node_setup_is_the_one_the_tests_run() -> None:
    (shell,) = blocks("sh")
    written = dict(
        (target, text.encode().decode("unicode_escape"))
        for text, target in re.findall(r"printf '([^']*)' > (\S+)", shell)
    )
    assert written["scrapy.cfg"] == SCRAPY_CFG  # tests.services.running_scrapyd writes this
    conf = configparser.ConfigParser()
    conf.read_string(written["scrapyd.conf"])
    assert {"bind_address", "http_port", "poll_interval", "username", "password"} <= set(
        conf["scrapyd"]
    )


def test_the_readme_followup_nodes_output() -> None:
    (shown,) = re.findall(
        r"```\n\$ followup nodes --db followup\.db\n(.*?)```", readme_section(SECTION), re.S
    )
    up = re.match(r"cn  (\S+)  up", shown)
    down = re.search(r"^us  (\S+)  DOWN", shown, re.M)
    assert up and down
    jobs = re.findall(
        r"^  finished  (\S+)  followup  (\S+ \S+)  run (\d+): (\d+) new, (\w+)$", shown, re.M
    )
    assert len(jobs) == 3
    finished = tuple(Job(j[0], "followup", "finished", start_time="x", end_time=j[1]) for j in jobs)
    runs = {j[0]: {"id": int(j[2]), "new": int(j[3]), "reason": j[4]} for j in jobs}
    with refused_port() as port:  # nobody listens there: the real message of a node that is down
        gone = get_node_status(Node("us", f"http://127.0.0.1:{port}")).error or ""
    printed = [
        *format_node_status(NodeStatus(Node("cn", up[1]), finished), runs),
        *format_node_status(
            NodeStatus(Node("us", down[1]), error=gone.replace(str(port), "44891"))
        ),
    ]
    assert "\n".join(printed) + "\n" == shown
