"""64-bit simhash fingerprints of article bodies, and the helpers to store and index them.

A fingerprint is the simhash of the character 3-grams of `compact(text)`: every n-gram is hashed
to 64 bits, and each bit of the result is the majority vote of that bit over all n-grams, each
counted as often as it occurs. That is what `simhash.Simhash({ngram: count, ...},
hashfunc=hash_feature).value` computes, vectorised with numpy (about 10x faster than the package's
default over a 5,000-character text); tests/test_fingerprint.py holds the two together.

The constants below were measured on the labelled corpus in tests/neardup: ten distinct articles
on one story (the Alibaba-Tencent opening), 450 generated reposts, 30 excerpts and 4,365 distinct
pairs. `python -m tests.neardup.measure` prints the tables the figures come from.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import numpy.typing as npt

from crawler.text import compact, normalize

# Character n-gram length. Averaged over 8 hash functions, 3- and 4-grams separate reposts from
# distinct articles equally well (d' 6.81 and 6.82; recall at NEAR_DISTANCE 0.939 and 0.926) and
# 2-grams worse (d' 6.61: distinct same-story articles share more bigrams and came within 15 bits,
# a modelled false match per comparison at NEAR_DISTANCE of 1.5e-5 against 5.5e-8 for 3-grams).
# 3 wins the tie: three code points pack into one 64-bit word, and a colleague's measurement on
# real reposts preferred 3 to 4. Counting each distinct n-gram once changed nothing (d' 6.80).
NGRAM = 3

# Any two fingerprints within BAND_DISTANCE share one of the four 16-bit bands (pigeonhole), so
# an exact index on the bands finds them all. Measured: 49% of the labelled reposts are within 3
# bits (every credit-line, HTML, width and whitespace change is 0); the rest need NEAR_DISTANCE.
BAND_DISTANCE = 3

# The wider threshold, used against a window of recent fingerprints. Measured with 3-grams:
# recall 0.931 at 10 (0.880 at 8, 0.967 at 12, 0.996 at 14); no distinct pair came within 17 bits
# (closest 18: a variant against another article; 22 between two originals). Distinct same-story
# distances follow Bin(64, 0.49) (mean 31.6, sd 4.1), so one comparison falsely matches with
# probability 1.8e-8 at 10, 3.9e-7 at 12 and 5.7e-6 at 14. That risk grows with the window: at
# 10, one false merge per ~55,000 new articles against 1,000 recent fingerprints, per ~1,100
# against 50,000; at 12 those are ~2,600 and ~50. A false merge hides a new article while a miss
# only shows a repost twice, hence 10. The misses are reposts that trimmed a whole paragraph off a
# short article (14% or more of its text) or combined such a trim with many edits.
NEAR_DISTANCE = 10

# Below this many compact characters a text is a newsflash: simhash is not used, `title_key` is.
# Measured on texts cut from the corpus at sentence ends, with one sentence edited or a "据…报道"
# lead-in added: texts under 50 characters moved up to 18 bits, 50-99 up to 17, 100-149 up to 14,
# 150-299 up to 11 (recall at NEAR_DISTANCE 0.91, 0.965, 0.994, 0.999); from 300 up every one
# stayed within NEAR_DISTANCE (at most 8). Distinct short texts stayed 18 or more bits apart at
# every length, so the floor is set by recall, not precision.
MIN_FINGERPRINT_CHARS = 300

_MASK64 = (1 << 64) - 1
_BAND_BITS = 16
_BAND_MASK = (1 << _BAND_BITS) - 1
_CODE_POINT_BITS = 21  # Unicode code points fit 21 bits, so three pack into one 64-bit word.
_PACK = 3
# majority_vote: offsets that give each byte position its own 256 bins, and the bits of each byte.
_OCTET_OFFSETS = np.arange(8, dtype=np.intp) * 256
_BITS_OF_OCTET = np.unpackbits(
    np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little"
).astype(np.int64)

# splitmix64 (Steele, Lea & Flood 2014; Vigna's reference): `splitmix64(x)` is the first output of a
# splitmix64 generator seeded with x. Any well-mixed 64-bit function would do; this one is
# public, short and vectorises with wrapping uint64 arithmetic.
_GAMMA = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB

# Trailing " - site" / "_site" / "|site" parts of page titles. A part is removed when it names a
# site: one of the sources we know, or a short name ending like a site's (…网, …新闻, ….com).
_TITLE_SEPARATORS = r"\-_|–—丨·"
_TITLE_SUFFIX_RE = re.compile(
    rf"^(?P<head>.*\S)\s*[{_TITLE_SEPARATORS}]+\s*(?P<tail>[^{_TITLE_SEPARATORS}]+)$"
)
# Sites followup does not poll whose names end reposted titles. The sources' own names come
# from their site modules (id, name and aliases), so a new site module needs no entry here.
_OTHER_SITE_NAMES = (
    "钛媒体 IT之家 爱范儿 品玩 极客公园 亿欧 少数派 快科技 驱动之家 中关村在线 界面新闻 澎湃新闻 "
    "第一财经 新浪科技 腾讯新闻"
)
_SITE_LIKE_RE = re.compile(r"(?:网|新闻|科技|财经|日报|频道|\.com|\.cn|\.net|\.org)$")
_SITE_LIKE_MAX = 12


def fingerprint(text: str) -> int:
    """Unsigned 64-bit simhash of an article body (credit lines already stripped)."""
    return fingerprint_compact(compact(text))


def fingerprint_compact(chars: str) -> int:
    """The fingerprint of text already reduced by `compact` (callers that have it save NFKC)."""
    return majority_vote(hash_ngrams(chars, NGRAM))


def is_newsflash(text: str) -> bool:
    """True when a text is too short for its fingerprint to mean anything (use `title_key`)."""
    return len(compact(text)) < MIN_FINGERPRINT_CHARS


def hamming(a: int, b: int) -> int:
    """Number of bits in which two fingerprints differ."""
    return (a ^ b).bit_count()


def split_bands(value: int) -> tuple[int, int, int, int]:
    """Four 16-bit bands; b0 is the least significant (bits 0-15), b3 the most (bits 48-63)."""
    _check_range(value)
    b0, b1, b2, b3 = (value >> shift & _BAND_MASK for shift in range(0, 64, _BAND_BITS))
    return b0, b1, b2, b3


def to_hex(value: int) -> str:
    """16 lower-case hex digits, zero padded."""
    _check_range(value)
    return f"{value:016x}"


def from_hex(text: str) -> int:
    """Inverse of `to_hex`."""
    value = int(text, 16)
    _check_range(value)
    return value


def to_signed(value: int) -> int:
    """Reinterpret an unsigned 64-bit value as signed, to fit SQLite's INTEGER."""
    _check_range(value)
    return value - (1 << 64) if value >> 63 else value


def from_signed(value: int) -> int:
    """Inverse of `to_signed`."""
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"{value} is not a signed 64-bit integer")
    return value & _MASK64


def title_key(title: str) -> str:
    """Normalised title for the exact check on newsflashes: no site suffix, word characters only."""
    text = normalize(title).strip()
    while (match := _TITLE_SUFFIX_RE.match(text)) and _is_site_name(match["tail"].strip()):
        text = match["head"]
    return compact(text)


def hash_feature(feature: bytes) -> int:
    """64-bit hash of one UTF-8 encoded n-gram: the scalar twin of `hash_ngrams`."""
    codes = [ord(char) for char in feature.decode("utf-8")]
    key = 0
    for start in range(0, max(len(codes), 1), _PACK):
        chunk = 0
        for code in codes[start : start + _PACK]:
            chunk = chunk << _CODE_POINT_BITS | code
        key = chunk if start == 0 else _splitmix64(key) ^ chunk
    return _splitmix64(key)


def hash_ngrams(chars: str, n: int) -> npt.NDArray[np.uint64]:
    """Hash of every character n-gram of `chars` (one for the whole text when it is shorter).

    Code points are packed three to a 64-bit word; an n-gram longer than three characters chains
    its words through the mixer, exactly as `hash_feature` does.
    """
    codes = np.frombuffer(chars.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    width = min(n, len(codes))
    count = len(codes) - width + 1
    key = np.zeros(count, dtype=np.uint64)
    for start in range(0, max(width, 1), _PACK):
        chunk = np.zeros(count, dtype=np.uint64)
        for offset in range(start, min(start + _PACK, width)):
            chunk = chunk << np.uint64(_CODE_POINT_BITS) | codes[offset : offset + count]
        key = chunk if start == 0 else splitmix64(key) ^ chunk
    return splitmix64(key)


def majority_vote(hashes: npt.NDArray[np.uint64]) -> int:
    """Set each bit that is set in more than half of the hashes, as `simhash.Simhash` does."""
    octets = hashes.astype("<u8", copy=False).view(np.uint8).reshape(-1, 8)
    # One bincount over (byte position, byte value) pairs, then a table lookup of the bits of
    # each byte value: twice as fast as unpacking every hash into 64 bits and summing.
    histogram = np.bincount((octets + _OCTET_OFFSETS).ravel(), minlength=8 * 256).reshape(8, 256)
    ones = histogram @ _BITS_OF_OCTET
    bits = ones.ravel() * 2 > len(hashes)
    return int(np.packbits(bits, bitorder="little").view("<u8")[0])


def splitmix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The 64-bit mixer of every n-gram hash, element-wise (wrapping uint64 arithmetic)."""
    # Array operands only: numpy wraps uint64 arrays silently but warns on scalar overflow.
    z = values + np.uint64(_GAMMA)
    z = (z ^ z >> np.uint64(30)) * np.uint64(_MUL1)
    z = (z ^ z >> np.uint64(27)) * np.uint64(_MUL2)
    return z ^ z >> np.uint64(31)


def _splitmix64(value: int) -> int:
    z = (value + _GAMMA) & _MASK64
    z = ((z ^ z >> 30) * _MUL1) & _MASK64
    z = ((z ^ z >> 27) * _MUL2) & _MASK64
    return z ^ z >> 31


def _is_site_name(part: str) -> bool:
    return part in known_site_names() or (
        len(part) <= _SITE_LIKE_MAX and _SITE_LIKE_RE.search(part) is not None
    )


@functools.cache
def known_site_names() -> frozenset[str]:
    """Normalised names that end a title as its site's signature: every source site's, and others."""
    from crawler.sites import SITES  # here, not at the top: fingerprinting needs no site module

    sources = [
        name
        for site in SITES.values()
        if site.id != "generic"
        for name in (site.id, site.name, *site.aliases)
    ]
    return frozenset(normalize(name) for name in [*sources, *_OTHER_SITE_NAMES.split()])


def _check_range(value: int) -> None:
    if not 0 <= value <= _MASK64:
        raise ValueError(f"{value} is not an unsigned 64-bit fingerprint")
