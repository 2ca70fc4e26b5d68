"""`followup` with its database on a disk that is almost full: run as a script by tests.

SQLite's max_page_count makes a write that needs more pages fail with SQLITE_FULL, "database
or disk is full": the error a full disk gives, without privileges to fill a real one. Usage:
python tests/full_disk.py SPARE_PAGES followup-arguments…
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from crawler import store
from crawler.cli import main

_open = store.Store.open.__func__  # type: ignore[attr-defined]
SPARE_PAGES = int(sys.argv[1]) if __name__ == "__main__" else 0


def _open_nearly_full(cls: Any, path: str | Path) -> store.Store:
    opened = _open(cls, path)
    pages = opened.db.execute("PRAGMA page_count").fetchone()[0]
    opened.db.execute(f"PRAGMA max_page_count = {pages + SPARE_PAGES}")
    return opened


if __name__ == "__main__":
    store.Store.open = classmethod(_open_nearly_full)  # type: ignore[method-assign,assignment]
    sys.argv = ["followup", *sys.argv[2:]]
    main()
