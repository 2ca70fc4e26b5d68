"""The default topic on a labelled mixed feed (tests/relevance/feed.toml)."""

from __future__ import annotations

import subprocess
import sys

from tests.relevance.measure import default_query, load_feed, score, without_except


def test_the_default_topic_keeps_every_related_item_and_no_other() -> None:
    result = score(default_query(), load_feed())
    assert (result.precision, result.recall) == (1.0, 1.0)


def test_without_except_payment_stories_naming_both_wallets_pass() -> None:
    items = load_feed()
    before = score(without_except(default_query()), items)
    assert before.recall == 1.0
    assert before.false_positives == 7
    assert "EXCEPT" not in without_except(default_query()).source


def test_the_measurement_script_prints_both_queries() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.relevance.measure"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "default (EXCEPT)           |     1.000 |  1.000 | 0" in result.stdout
    assert "before EXCEPT              |     0.533 |  1.000 | 7" in result.stdout
