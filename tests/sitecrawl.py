"""One crawl of some sources against a mirror (in this process), for the site-health tests."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crawler.config import load_seeds
from crawler.mirror import Mirror
from crawler.report import all_failed
from tests.helpers import FAST_SETTINGS, QUERY, write_seeds
from tests.inprocess import crawl_logged

# The default topic without its seed articles (they live on the tests' generic web).
TOPIC = f"""
[[topic]]
id = "interop"
name = "阿里腾讯互联互通"
query = '{QUERY}'
"""


def crawl(
    mirror: Mirror, directory: Path, sources: str, *, settings: Mapping[str, Any] = FAST_SETTINGS
) -> dict[str, dict[str, int]]:
    """Crawl `sources` ({https://…} placeholders point at the mirror) into directory/followup.db
    in this process; returns the per-source figures of the run, which must have succeeded as
    `followup crawl` exits 0: no crawl error, not every source failed."""
    seeds = write_seeds(directory / "seeds", mirror, sources, topics=TOPIC)
    result, log = crawl_logged(seeds, directory / "followup.db", settings=settings)
    assert result.error is None, result.error
    assert not all_failed(result.summary, [s.id for s in load_seeds(seeds).sources]), log
    return result.summary


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
