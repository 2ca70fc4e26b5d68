"""crawler.sketch: shingle sketches and the containment test of the second tier."""

from __future__ import annotations

import numpy as np
import pytest

from crawler.fingerprint import fingerprint_compact, hash_ngrams
from crawler.sketch import (
    CONTAINED,
    SAMPLE_BITS,
    SHARED,
    Sketch,
    containment,
    fingerprint_with_sketch,
    is_contained_copy,
)
from crawler.text import compact
from tests.neardup.corpus import load_articles


def text() -> str:
    return compact("\n".join(article.body for article in load_articles()))


def exact_fivegrams(chars: str) -> set[str]:
    return {chars[i : i + 5] for i in range(len(chars) - 4)}


def test_fingerprint_with_sketch_is_the_fingerprint_and_a_sample() -> None:
    chars = text()[:3000]
    value, sketch = fingerprint_with_sketch(chars)
    assert value == fingerprint_compact(chars)
    expected = len(exact_fivegrams(chars)) / 2**SAMPLE_BITS
    assert 0.8 * expected < len(sketch) < 1.2 * expected
    assert list(sketch.hashes) == sorted(set(sketch.hashes.tolist()))


def test_sampling_is_consistent_so_a_part_keeps_its_samples() -> None:
    chars = text()
    whole = Sketch.from_trigram_hashes(hash_ngrams(chars, 3))
    part = Sketch.from_trigram_hashes(hash_ngrams(chars[1000:2500], 3))
    assert set(part.hashes.tolist()) <= set(whole.hashes.tolist())
    assert containment(part, whole)[0] == 1.0


def test_containment_estimates_the_share_of_fivegrams() -> None:
    chars = text()
    a, b = chars[:4000], chars[2000:8000]
    exact = len(exact_fivegrams(a) & exact_fivegrams(b)) / len(exact_fivegrams(a))
    estimate, _ = containment(*(Sketch.from_trigram_hashes(hash_ngrams(t, 3)) for t in (a, b)))
    assert exact == pytest.approx(0.5, abs=0.02)
    assert estimate == pytest.approx(exact, abs=0.08)


def test_bytes_round_trip_little_endian() -> None:
    sketch = Sketch(np.array([1, 2**32 - 1], dtype=np.uint32))
    assert sketch.to_bytes() == b"\x01\x00\x00\x00\xff\xff\xff\xff"
    assert Sketch.from_bytes(sketch.to_bytes()).hashes.tolist() == [1, 2**32 - 1]


def test_short_and_empty_texts_have_empty_sketches() -> None:
    assert len(Sketch.from_trigram_hashes(hash_ngrams("ab", 3))) == 0
    empty = Sketch(np.zeros(0, dtype=np.uint32))
    assert containment(empty, empty) == (0.0, 0.0)
    assert not is_contained_copy(empty, empty)


# Sketch hashes are random: the cases index into a fixed set of random values.
POOL = np.random.default_rng(7).choice(2**32, size=200, replace=False).astype(np.uint32)


def sketch_of(values: range) -> Sketch:
    return Sketch(np.sort(POOL[list(values)]))


@pytest.mark.parametrize(
    ("new", "old", "duplicate"),
    [
        (range(0, 60), range(0, 100), True),  # a copy cut after 60 %
        (range(0, 100), range(0, 60), True),  # the same pair, the other arrival order
        (range(0, 45), range(0, 100), True),  # an excerpt of 45 %: SHARED is 0.4
        (range(0, 35), range(0, 100), False),  # a quoted third is no copy
        (range(40, 100), range(0, 60), False),  # 20 shared of 60: a follow-up
        (range(0, 100), range(25, 125), True),  # 75 % shared both ways: a heavily edited copy
        (range(0, 100), range(35, 135), False),  # 65 % shared both ways
    ],
)
def test_is_contained_copy(new: range, old: range, duplicate: bool) -> None:
    assert CONTAINED == 0.7 and SHARED == 0.4
    assert is_contained_copy(sketch_of(new), sketch_of(old)) is duplicate
