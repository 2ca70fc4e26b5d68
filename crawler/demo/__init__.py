"""`followup demo`: the five sources' recorded copies served locally, crawled with the default topic.

The recorded copies (crawler/demo/sites/, also the per-site test fixtures) are served by
crawler.mirror on 127.0.0.1; the demo's seeds (crawler/demo/seeds/) name the real URLs,
which are pointed at the local copies before the crawl. No internet is needed.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from crawler.mirror import Mirror

HERE = Path(__file__).parent
SITES_DIR = HERE / "sites"
SEEDS_DIR = HERE / "seeds"
# A table the demo creates, so it only ever replaces a database it made itself.
DEMO_MARK = "_followup_demo"
# Fast settings for a local server: the politeness delays exist for real sites.
DEMO_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "DOWNLOAD_TIMEOUT": 10,
    "FOLLOWUP_RETRY_BACKOFF": 0.1,
}


class DemoError(RuntimeError):
    """A demo that would overwrite a database it did not create."""


@contextmanager
def serve_demo_sites() -> Iterator[Mirror]:
    """The recorded copies of the five sites, served on 127.0.0.1 while the block runs."""
    with Mirror.from_directory(SITES_DIR) as mirror:
        yield mirror


def write_local_seeds(mirror: Mirror, directory: Path) -> Path:
    """The demo's seeds with every mirrored URL pointed at its local copy."""
    pattern = re.compile(r"https?://[^\s\"'\]]+")

    def localise(match: re.Match[str]) -> str:
        url = match[0]
        try:
            return mirror.url_for(url)
        except KeyError:
            return url

    for name in ("sources.toml", "topics.toml"):
        text = (SEEDS_DIR / name).read_text(encoding="utf-8")
        (directory / name).write_text(pattern.sub(localise, text), encoding="utf-8")
    return directory


def prepare_database(path: Path) -> None:
    """Start from an empty file, replacing only a database an earlier demo made."""
    if path.exists():
        if DEMO_MARK not in Database(path).table_names():
            raise DemoError(
                f"{path} exists and was not made by `followup demo`; "
                "remove it or pass --db with another file"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    Database(path).table(DEMO_MARK).insert({"note": "made by followup demo; safe to delete"})


def run_demo(db_path: Path) -> dict[str, Any]:
    """Serve the recorded sites, crawl them into db_path; returns the crawl summary."""
    from crawler.config import load_seeds
    from crawler.runner import run_crawl

    prepare_database(db_path)
    with serve_demo_sites() as mirror, tempfile.TemporaryDirectory() as tmp:
        seeds = load_seeds(write_local_seeds(mirror, Path(tmp)))
        result = run_crawl(seeds, db_path, settings=DEMO_SETTINGS)
        restore_real_urls(Database(db_path), mirror)
    return {"run_id": result.run_id, "sources": result.summary}


# Tables and their URL columns the demo points back at the real addresses.
URL_COLUMNS = (("articles", "url"), ("duplicates", "url"), ("seen", "url"))


def restore_real_urls(db: Database, mirror: Mirror) -> None:
    """Store the real addresses the local copies stand for, so the demo database reads like
    one made from the real sites (and stays meaningful once the local server is gone)."""
    with db.atomic():
        for origin in mirror.origins:
            local = mirror.local_origin(origin)
            for table, column in URL_COLUMNS:
                db.execute(
                    f"UPDATE {table} SET {column} = ? || substr({column}, ?) WHERE {column} LIKE ?",
                    [origin, len(local) + 1, f"{local}/%"],
                )
