"""crawler.nfkc: the same as unicodedata's NFKC, character by character where that is exact."""

from __future__ import annotations

import random
import re
import unicodedata

from bench.textgen import TextGenerator
from crawler.nfkc import COMPOSING_SECONDS, PLAIN, SECONDS_UNICODE, nfkc

# Characters that compose, reorder, decompose or change under NFKC, beside plain ones.
TRICKY = (
    "ab中文 ，。Ａｂ１e\u0301\u0308\u0327가\u1161\u11a8ᄀ\u0bbe\u0b92\u0bc6ﬁ㍿①½\uff9e\uff76"
    "\u0345\u0f73\u1e9b\u2126\u212b\u3099\u309a\u304b\u0915\u093c"
)


def test_the_composing_seconds_are_those_of_this_python_unicode() -> None:
    assert unicodedata.unidata_version == SECONDS_UNICODE  # else nfkc always goes whole
    seconds = set()
    for point in range(0x110000):
        decomposition = unicodedata.decomposition(chr(point))
        parts = decomposition.split()
        if len(parts) == 2 and not decomposition.startswith("<"):
            second = chr(int(parts[1], 16))
            if unicodedata.combining(second) == 0:
                seconds.add(second)
    hangul = {chr(p) for p in (*range(0x1161, 0x1176), *range(0x11A8, 0x11C3))}
    assert seconds | hangul == COMPOSING_SECONDS


def test_the_plain_characters_are_inert_and_unchanged_by_nfkc() -> None:
    plain = re.compile(f"[{PLAIN}]")
    chars = [chr(point) for point in range(0x110000) if plain.fullmatch(chr(point))]
    assert len(chars) > 27_000  # ASCII, both CJK blocks, the punctuation
    for char in chars:
        assert unicodedata.normalize("NFKC", char) == char, ascii(char)
        assert unicodedata.combining(char) == 0, ascii(char)
        assert char not in COMPOSING_SECONDS, ascii(char)


def test_nfkc_is_unicodedatas_on_random_and_generated_texts() -> None:
    rng = random.Random(11)
    for _ in range(50_000):
        text = "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 10)))
        assert nfkc(text) == unicodedata.normalize("NFKC", text), ascii(text)
    generate = TextGenerator(random.Random(2))
    for _ in range(20):
        text = generate.article(on_topic=True, min_chars=500, max_chars=3000).text
        assert nfkc(text) == unicodedata.normalize("NFKC", text)
    assert nfkc("全角，ＡＢＣ１２３") == "全角,ABC123"
    assert nfkc("中文") == "中文"
