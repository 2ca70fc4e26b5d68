"""Helpers for tests that crawl the local web: seeds pointing at it, the installed command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from crawler.mirror import Mirror

TESTS = Path(__file__).parent
WEB = TESTS / "web"
QUERY = (
    "(阿里 OR 阿里巴巴 OR 淘宝 OR 天猫 OR 支付宝) AND (腾讯 OR 微信) AND "
    "(互联互通 OR 互通 OR 拆墙 OR 屏蔽 OR 外链 OR 链接 OR 微信支付 OR 口令)"
)
# The tests' web as sources: three healthy ones, then three that fail on purpose.
SOURCES = """
[[source]]
id = "news"
name = "新闻示例 (full-text feed)"
site = "generic"
feeds = ["{https://news.example.com/feed.xml}"]

[[source]]
id = "daily"
name = "每日科技 (teaser feed)"
site = "generic"
feeds = ["{https://daily.example.org/rss}"]

[[source]]
id = "listed"
name = "列表新闻 (listing page)"
site = "generic"
lists = ["{https://list.example.net/news/}"]

[[source]]
id = "broken"
site = "generic"
feeds = ["{https://broken.example.com/feed}"]

[[source]]
id = "bad"
site = "generic"
feeds = ["{https://bad.example.com/feed.xml}"]

[[source]]
id = "slow"
site = "generic"
feeds = ["{https://slow.example.com/feed}"]
"""
# The same web without the sources that fail on purpose (they make a crawl wait for timeouts).
HEALTHY_SOURCES = SOURCES.split('[[source]]\nid = "broken"')[0]
# Fast and strict, but the same mechanisms: retries with backoff, timeouts, robots.txt.
FAST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "0",
    "DOWNLOAD_DELAY": "0",
    "DOWNLOAD_TIMEOUT": "2",
    "RETRY_TIMES": "1",
    "FOLLOWUP_RETRY_BACKOFF": "0.2",
}


def write_seeds(directory: Path, mirror: Mirror, sources: str, topics: str | None = None) -> Path:
    """A seeds directory whose URLs ({https://host/path}) point at the mirror."""
    directory.mkdir(parents=True, exist_ok=True)
    localise = _localiser(mirror)
    (directory / "sources.toml").write_text(localise(sources), encoding="utf-8")
    default_topics = f"""
[[topic]]
id = "interop"
name = "阿里腾讯互联互通"
query = '{QUERY}'
seeds = ["{{https://list.example.net/news/1999.html}}"]
"""
    (directory / "topics.toml").write_text(localise(topics or default_topics), encoding="utf-8")
    return directory


def _localiser(mirror: Mirror) -> Callable[[str], str]:
    return lambda text: re.sub(r"\{(https?://[^}]+)\}", lambda m: mirror.url_for(m[1]), text)


def run_followup(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed `followup` command as a subprocess."""
    command = Path(sys.executable).with_name("followup")
    return subprocess.run(
        [str(command), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def setting_args(settings: dict[str, str] = FAST_SETTINGS) -> Sequence[str]:
    """-s NAME=VALUE arguments for the crawl command."""
    return [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]
