"""Shared fixtures: the local web of recorded pages, seeds pointing at it, crawl settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawler.mirror import Mirror
from tests.helpers import WEB


@pytest.fixture
def web() -> Iterator[Mirror]:
    """The generic test sites (tests/web) served on 127.0.0.1."""
    with Mirror.from_directory(WEB) as mirror:
        yield mirror
