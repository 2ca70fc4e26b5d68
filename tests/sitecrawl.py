"""One `followup crawl --json` of some sources against a mirror, for the site-health tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from crawler.mirror import Mirror
from tests.helpers import QUERY, run_followup, setting_args, write_seeds

# The default topic without its seed articles (they live on the tests' generic web).
TOPIC = f"""
[[topic]]
id = "interop"
name = "阿里腾讯互联互通"
query = '{QUERY}'
"""


def crawl(
    mirror: Mirror, directory: Path, sources: str, *args: str, expect: int = 0
) -> dict[str, dict[str, int]]:
    """Crawl `sources` ({https://…} placeholders point at the mirror) into directory/followup.db;
    returns the per-source figures of the run."""
    seeds = write_seeds(directory / "seeds", mirror, sources, topics=TOPIC)
    result = run_followup(
        "crawl",
        "--seeds",
        str(seeds),
        "--db",
        str(directory / "followup.db"),
        "--json",
        *setting_args(),
        *args,
    )
    assert result.returncode == expect, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary["sources"]


def relayout_cnbeta(body: bytes) -> bytes:
    """A cnBeta page as a redesign would leave it: the same text under class names its site
    module does not know."""
    for old, new in [
        (b"cnbeta-article", b"cb-story"),
        (b"article-content", b"story-body"),
        (b"article-summary", b"story-lead"),
        (b'class="title"', b""),
    ]:
        body = body.replace(old, new)
    return body


README = Path(__file__).parents[1] / "README.md"
LOCAL_ORIGIN_RE = re.compile(r"http://127\.0\.0\.1:\d+")


def readme_example(command: str) -> list[str]:
    """The output README.md shows under `    $ <command>` (up to the next `    $ ` line)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"    $ {command}") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("    $ "))
    return [line[4:] for line in lines[start:end]]


def real_urls(mirror: Mirror, text: str) -> str:
    """Output with the mirror's local addresses put back to the real ones they stand for."""
    return LOCAL_ORIGIN_RE.sub(lambda m: mirror.real_url(m[0]), text)
