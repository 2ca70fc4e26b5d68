"""A crawl process's cyclic collector (crawler/runner.py: tune_collector)."""

from __future__ import annotations

import subprocess
import sys

from crawler.runner import GC_YOUNG_THRESHOLD

PROBE = """
import gc, sys
from crawler.runner import tune_collector
before = gc.get_freeze_count(), gc.get_threshold()
tune_collector()
print(before[0], before[1][0], gc.get_freeze_count(), *gc.get_threshold())
"""


def test_a_crawl_process_freezes_start_up_and_collects_young_objects_less_often() -> None:
    # In a process of its own: freezing is for the life of a process, not a test session's.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    frozen_before, young_before, frozen, young, middle, old = map(int, out)
    assert frozen_before == 0 and young_before == 700  # Python's defaults
    assert frozen > 10_000  # the objects Scrapy, Twisted and followup's imports built
    assert (young, middle, old) == (GC_YOUNG_THRESHOLD, 10, 10)
