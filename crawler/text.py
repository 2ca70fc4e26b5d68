"""Plain-text helpers shared by extraction, topic matching and fingerprinting."""

from __future__ import annotations

import re
from collections.abc import Iterable

import lxml.html

from crawler.nfkc import nfkc

# Elements that end a line of text when an HTML body is flattened.
BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
# Elements whose content is never article text.
SKIP_TAGS = frozenset(
    ["script", "style", "noscript", "template", "iframe", "svg", "button", "form", "select"]
)

# Credit and syndication lines. They differ between the copies of one article, so they must not
# take part in matching or fingerprints ("every syndicated piece looks alike, every repost looks
# different" otherwise). A line is dropped only when it is short: a paragraph that merely quotes
# one of these phrases is content.
BOILERPLATE_PATTERNS = (
    r"^本文来自",
    r"^本文(?:由|经).{0,40}(?:授权|发布|转载)",
    r"^.{0,60}(?<!未)经授权(?:发布|首发|转载)",  # "…，36氪经授权发布。"
    r"^该文观点仅代表作者本人",
    r"^\*?(?:本文|文章)?(?:为|系)?(?:仅代表)?作者(?:独立|个人)?观点",  # "*文章为作者独立观点…"
    r"^[(（【]?(?:责任编辑|责编|编辑|作者|撰文|出品|题图|头图|图源|来源|文|图|策划|监制|排版|校对|审核|译者|编译|文章来源)\s*[|｜:：/]",
    r"^(?:转载|商务合作|投稿)请",
    r"^(?:未经|如需)(?:授权|转载)",
    r"^免责声明",
    r"^声明[:：]",  # "声明：本文转载自…"
    r"^(?:本文)?转载自",
    r"^(?:点击|欢迎)(?:关注|订阅|上方)",
    r"^(?:本文)?首发于",
    r"^(?:点击)?(?:阅读|查看)(?:全文|原文)",  # "阅读全文", "点击阅读全文>>"
    r"^展开全文",
    r"^[(（]完[)）]$",
    r"^[▲△].{0,40}$",  # an image caption, "▲图片来源…" (a long line starting so is content)
    r"^(?:题图|封面|图片|图)(?:来自|来源于?)\s*[:：@]?",
    r"^[(（]?(?:图片|图)?来源[:：@]",
    r"^原创\s+\S+\s+\S+\s*\d{4}",  # WeChat's "原创 作者 公众号 2026-11-20" header
    r"^[-—\s]*(?i:end)[-—\s]*$",  # an editor's end marker
)
BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in BOILERPLATE_PATTERNS))
BOILERPLATE_MAX_LINE = 120
# "相关阅读" / "延伸阅读" / "【推荐阅读】" and the headlines under it (each at most this long).
RELATED_HEADING_RE = re.compile(r"^[【\[]?(?:相关|延伸|推荐|扩展|更多)阅读[】\]]?\s*[:：]?\s*$")
RELATED_ITEM_MAX = 60
RELATED_ITEMS_MAX = 10
# "……阅读全文" / "点击阅读全文>>" ending a truncated copy's last paragraph.
# Only after an ellipsis, with 点击 or with an arrow: "…请阅读全文" can be a sentence.
READ_MORE_TAIL_RE = re.compile(
    r"\s*(?:(?:\.{2,}|…+)\s*(?:点击)?|点击)?(?:阅读|查看)全文\s*(?:[>＞]+|»|→)?\s*$"
)
_READ_MORE_CUE_RE = re.compile(r"(?:\.{2,}|…|点击)\s*(?:阅读|查看)全文|全文\s*(?:[>＞]+|»|→)\s*$")
# A re-headlined copy names the title it was published under: "原标题：《…》".
ORIGINAL_TITLE_RE = re.compile(r"^(?:原标题|原文标题)\s*[:：]\s*(?P<title>.+?)\s*$")
ORIGINAL_TITLE_LINES = 3

# Characters no text of an article has, which break XML (Atom), terminals or JSON consumers:
# C0 and C1 controls but tab and line breaks, DEL, lone surrogates, the non-characters U+FFFE/F.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Runs of blanks inside a line (\r, \f and \v end lines, as str.splitlines reads them).
_SPACE_RE = re.compile(r"[ \t\u00a0\u3000]+")
_WORD_RE = re.compile(r"\w+")


def normalize(text: str) -> str:
    """NFKC and case-fold, so full/half width and letter case never matter."""
    return nfkc(text).casefold()


def strip_controls(text: str) -> str:
    """text without control characters, lone surrogates and non-characters (tab and line
    breaks stay)."""
    return _CONTROL_RE.sub("", text)


def one_line(text: str) -> str:
    """text without control characters, its runs of whitespace (line breaks too) one space."""
    return " ".join(strip_controls(text).split())


def clean_lines(text: str) -> list[str]:
    """Split text into stripped, non-empty lines with runs of blanks collapsed."""
    return [clean for line in _SPACE_RE.sub(" ", text).splitlines() if (clean := line.strip())]


def is_boilerplate(line: str) -> bool:
    """True for a short credit or syndication line (本文来自…, 36氪经授权发布, 作者｜…)."""
    if len(line) > BOILERPLATE_MAX_LINE:
        return False
    return BOILERPLATE_RE.match(nfkc(line).lstrip()) is not None


def strip_boilerplate(text: str) -> str:
    """Drop credit and syndication lines, "related reading" blocks and "read the full text"
    tails, keeping every line of content."""
    return "\n".join(content_lines(clean_lines(text)))


def content_lines(lines: Iterable[str]) -> list[str]:
    """strip_boilerplate of lines already through clean_lines (html_lines gives such)."""
    kept = []
    related = 0  # headlines still to drop after a "相关阅读" heading
    for line in lines:
        if RELATED_HEADING_RE.match(line):
            related = RELATED_ITEMS_MAX
            continue
        # A related-reading block is a list of headlines: it ends at the first paragraph.
        if related and len(line) <= RELATED_ITEM_MAX:
            related -= 1
            continue
        related = 0
        if is_boilerplate(line):
            continue
        if "全文" in line and _READ_MORE_CUE_RE.search(line):  # the cheap test first
            line = READ_MORE_TAIL_RE.sub("", line)
        if line:
            kept.append(line)
    return kept


def split_original_title(text: str) -> tuple[str, str]:
    """(the title a `原标题：…` line near the top names, the text without that line).

    The line is kept in stored text (it tells a reader where a story came from) but must not
    take part in fingerprints; its title identifies a re-headlined copy. ("", text) without one.
    """
    lines = text.split("\n", ORIGINAL_TITLE_LINES)  # the rest of the text stays one piece
    for index, line in enumerate(lines[:ORIGINAL_TITLE_LINES]):
        if "标题" not in line[:8] or len(line) > BOILERPLATE_MAX_LINE:
            continue  # the cheap test first: every article passes here
        match = ORIGINAL_TITLE_RE.match(nfkc(line).strip())
        if match:
            title = match["title"]
            if title.startswith("《") and title.endswith("》"):  # 《…》 around the whole title
                title = title[1:-1]
            return title.strip(), "\n".join(lines[:index] + lines[index + 1 :])
    return "", text


def compact(text: str, *, normalized: bool = False) -> str:
    """Normalised text reduced to its word characters: what fingerprints are computed over.

    Pass normalized=True for text already through `normalize` (NFKC is the costly part).
    """
    return "".join(_WORD_RE.findall(text if normalized else normalize(text)))


def word_count(text: str) -> int:
    """How many word characters a text has, without normalising it: a cheap size for checks."""
    return sum(map(len, _WORD_RE.findall(text)))


def has_words(text: str, minimum: int) -> bool:
    """True when text has at least `minimum` word characters. Counted only when its length
    leaves doubt: prose is far more than half word characters."""
    return len(text) >= 2 * minimum or word_count(text) >= minimum


def html_to_text(html: str | lxml.html.HtmlElement) -> str:
    """Flatten an HTML fragment to text, one line per block element."""
    return "\n".join(html_lines(html))


def html_lines(html: str | lxml.html.HtmlElement) -> list[str]:
    """The lines of html_to_text: clean_lines of the fragment's text, blocks ending lines."""
    if isinstance(html, str):
        if not html.strip():
            return []
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    else:
        root = html
    parts: list[str] = []
    _flatten(root, parts)
    return clean_lines("".join(parts))


def _flatten(element: lxml.html.HtmlElement, parts: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag in SKIP_TAGS:
        if element.tail:
            parts.append(element.tail)
        return
    block = tag in BLOCK_TAGS
    if block:
        parts.append("\n")
    if tag and element.text:
        parts.append(element.text)
    for child in element:
        _flatten(child, parts)
    if block:
        parts.append("\n")
    if element.tail:
        parts.append(element.tail)
