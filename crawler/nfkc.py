"""NFKC without normalising the whole text when each character can be normalised on its own.

NFKC decomposes (compatibility), reorders combining marks and composes. Around a character that
combines with nothing before it — canonical combining class 0, and not the second character of
any canonical composition — nothing reorders or composes across it. A text made only of such
characters, whose own NFKC forms are such characters too (nearly every Chinese news text), is
therefore normalised character by character: only the few that change (full-width punctuation
and digits, ligatures, circled numbers) are replaced, each distinct one by one `str.replace`,
instead of unicodedata rebuilding every character (the largest single cost of matching an
article). Any other text goes to unicodedata.normalize whole.

Most characters of such a text are plain ones (printable ASCII, the common CJK ideographs and
punctuation) that NFKC leaves alone in every Unicode version: one regular-expression pass finds
the others, and only those are looked at, so the text is never turned into a set.
"""

from __future__ import annotations

import re
import unicodedata

# The characters of combining class 0 that are the second of a canonical composition pair in
# Unicode 14.0.0 (Indic vowel signs, Hangul medial vowels and final consonants): a character
# before them may compose with them. tests/test_nfkc.py recomputes the set from unicodedata.
SECONDS_UNICODE = "14.0.0"
COMPOSING_SECONDS = frozenset(
    map(
        chr,
        (
            *(0x09BE, 0x09D7, 0x0B3E, 0x0B56, 0x0B57, 0x0BBE, 0x0BD7, 0x0CC2, 0x0CD5, 0x0CD6),
            *(0x0D3E, 0x0D57, 0x0DCF, 0x0DDF, 0x0FB5, 0x0FB7, 0x102E, 0x1B35, 0x11127),
            *(0x1133E, 0x11357, 0x114B0, 0x114BA, 0x114BD, 0x115AF, 0x11930),
            *range(0x1161, 0x1176),  # Hangul jungseong: compose with a leading consonant
            *range(0x11A8, 0x11C3),  # Hangul jongseong: compose with an LV syllable
        ),
    )
)
# Characters inert and unchanged by NFKC in every Unicode version (tests/test_nfkc.py checks
# each): tab and line breaks, printable ASCII, CJK ideographs (Extension A and the unified block)
# and the CJK punctuation and quotes Chinese text is made of.
PLAIN = (
    "\t\n\r\x20-\x7e"
    "\u2014\u2018\u2019\u201c\u201d\u3001\u3002\u3008-\u3011"  # — ‘’ “” 、。〈〉《》「」『』【】
    "\u3400-\u4dbf\u4e00-\u9fff"
)
_OTHERS_RE = re.compile(f"[^{PLAIN}]")
# Every character seen; those that are not normalised on their own; those that are and change
# (with their NFKC).
_SEEN: set[str] = set()
_ENTANGLED: set[str] = set()
_CHANGING: dict[str, str] = {}


def nfkc(text: str) -> str:
    """unicodedata.normalize("NFKC", text), character by character where that is the same."""
    if unicodedata.unidata_version != SECONDS_UNICODE:  # the set above would not be known true
        return unicodedata.normalize("NFKC", text)
    chars = set(_OTHERS_RE.findall(text))
    for char in chars - _SEEN:
        _classify(char)
    if not chars.isdisjoint(_ENTANGLED):
        return unicodedata.normalize("NFKC", text)
    for char in chars.intersection(_CHANGING):
        text = text.replace(char, _CHANGING[char])
    return text


def _classify(char: str) -> None:
    form = unicodedata.normalize("NFKC", char)
    if not _inert(char) or not all(map(_inert, form)):
        _ENTANGLED.add(char)
    elif form != char:
        _CHANGING[char] = form
    _SEEN.add(char)


def _inert(char: str) -> bool:
    """True when char neither reorders nor composes with the character before it."""
    return unicodedata.combining(char) == 0 and char not in COMPOSING_SECONDS
