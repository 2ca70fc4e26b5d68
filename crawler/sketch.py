"""The second tier of near-duplicate detection: containment measured on shingle sketches.

Simhash measures similarity, not containment: a repost cut off after 60 % of the text, or an
excerpt, lies entirely inside its original yet sits 11-20 bits away from it. For the candidates
simhash finds in that range, the second tier compares the character 5-grams the two texts share.

A sketch is a consistent sample of a text's 5-gram hashes: those whose top SAMPLE_BITS bits are
zero, so the same 5-gram is kept in every text that has it and |A ∩ B| / |A| over the samples
estimates the share of A's 5-grams that B has (Broder 1997, "mod-m" sampling). Each kept hash is
stored as its low 32 bits, sorted, so a sketch is 4 bytes per 2**SAMPLE_BITS 5-grams (a 3,000
character text: ~1.5 KB) and no candidate's text has to be read again.

The 5-grams are not hashed anew: the hash of the 5-gram at i combines the 3-gram hashes at i and
i + 2 that the fingerprint already computed, so a sketch costs a few numpy passes.

The thresholds were chosen on the labelled set of tests/neardup/tiers.py (`python -m bench --only
6` prints the figures): see `is_contained_copy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from crawler.fingerprint import NGRAM, hash_ngrams, majority_vote

# 1 in 2**SAMPLE_BITS 5-grams is kept. At 3 (1 in 8) a 300-character text keeps ~37 samples and
# its containment estimate has a standard deviation under 0.07 at the thresholds below.
SAMPLE_BITS = 3
# Candidates further than this many simhash bits are not compared. Measured on the labelled set
# (the corpus and 199 real texts, bench measurement 6): truncated reposts and ≥ 50 % excerpts lie
# within 20 bits but for a handful at 21. A random fingerprint falls within 20 bits of one of the
# 5,000 recent ones with probability 5,000 × 1.8e-3 ≈ 9, within 22 bits ≈ 42: 20 keeps the
# second tier to a few sketches per lookup.
SKETCH_DISTANCE = 20
# At most this many candidates (closest first) are compared per lookup: one indexed read.
SKETCH_CANDIDATES = 16
# A copy is a duplicate when one text has at least CONTAINED of its 5-grams in the other, and the
# other at least SHARED of its own in the first: see `is_contained_copy`.
CONTAINED = 0.7
SHARED = 0.4
# Most candidates are distinct articles sharing a few percent of their 5-grams. The smallest
# PROBE hashes of the smaller sketch (a uniform sample of it: the hashes are random) decide those
# at a fraction of the cost: under PROBE_SHARE of them in the other sketch is a rejection. A copy
# at CONTAINED falls that low with probability < 1e-5 (binomial, 32 draws at p = 0.7).
PROBE = 32
PROBE_SHARE = 0.35

_ROTATE = np.uint64(23)
_KEEP_SHIFT = np.uint64(64 - SAMPLE_BITS)
_LOW32 = np.uint64(0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class Sketch:
    """The sorted, distinct sampled 5-gram hashes of one text (low 32 bits)."""

    hashes: npt.NDArray[np.uint32]

    @classmethod
    def from_trigram_hashes(cls, trigrams: npt.NDArray[np.uint64]) -> Sketch:
        """The sketch of a text from the hashes of its character 3-grams, in text order."""
        if len(trigrams) < 3:
            return cls(np.zeros(0, dtype=np.uint32))
        head, tail = trigrams[:-2], trigrams[2:]
        fivegrams = head ^ (tail << _ROTATE | tail >> (np.uint64(64) - _ROTATE))
        kept = fivegrams[fivegrams >> _KEEP_SHIFT == 0]
        return cls(np.unique((kept & _LOW32).astype(np.uint32)))

    @classmethod
    def from_bytes(cls, blob: bytes) -> Sketch:
        """Inverse of `to_bytes`."""
        return cls(np.frombuffer(blob, dtype=np.dtype("<u4")))

    def to_bytes(self) -> bytes:
        """Little-endian uint32s: what `fingerprints.sketch` holds."""
        return self.hashes.astype("<u4").tobytes()

    def __len__(self) -> int:
        return len(self.hashes)


def shared(a: Sketch, b: Sketch) -> int:
    """How many sampled 5-grams two sketches have in common."""
    return len(np.intersect1d(a.hashes, b.hashes, assume_unique=True))


def containment(a: Sketch, b: Sketch) -> tuple[float, float]:
    """(share of a's 5-grams found in b, share of b's found in a); 0 for an empty sketch."""
    common = shared(a, b)
    return common / max(len(a), 1), common / max(len(b), 1)


def is_contained_copy(new: Sketch, old: Sketch) -> bool:
    """True when one text is mostly inside the other and is not a small part of it.

    A truncated repost or an excerpt lies inside its original (CONTAINED of its 5-grams there)
    and keeps at least half of it (SHARED); in the other arrival order the roles swap, hence the
    symmetry. A follow-up quoting a paragraph or two of an earlier article is mostly new text:
    neither side reaches CONTAINED, or the quoted side is under SHARED of the longer one.
    """
    small, large = sorted((new, old), key=len)
    if len(small) > PROBE and _found(small.hashes[:PROBE], large) < PROBE * PROBE_SHARE:
        return False
    forward, backward = containment(new, old)
    return max(forward, backward) >= CONTAINED and min(forward, backward) >= SHARED


def _found(probe: npt.NDArray[np.uint32], sketch: Sketch) -> int:
    """How many of the sorted `probe` hashes the sketch has."""
    where = np.minimum(np.searchsorted(sketch.hashes, probe), len(sketch) - 1)
    return int(np.count_nonzero(sketch.hashes[where] == probe))


def fingerprint_with_sketch(chars: str) -> tuple[int, Sketch]:
    """The simhash of `compact` text and its sketch, from one pass of 3-gram hashing."""
    trigrams = hash_ngrams(chars, NGRAM)
    return majority_vote(trigrams), Sketch.from_trigram_hashes(trigrams)
