"""The topic query language: terms, "phrases", AND, OR, NOT, EXCEPT and parentheses.

Precedence is NOT > AND (explicit or implicit, between adjacent operands) > OR. Operators are
only operators when written in upper case; the query is NFKC-normalised first, so full-width
（）＂ＡＮＤ work as their ASCII forms. Terms match as substrings of normalised text, except that a
term beginning or ending with an ASCII letter or digit must not be glued to another one there.

Chinese has no spaces, so a term cannot ask for word boundaries; it can name the longer words it
must not be read inside: `微信支付 EXCEPT 微信支付宝` holds where 微信支付 occurs other than as part
of 微信支付宝 ("微信支付宝都能用" names two wallets, not WeChat Pay). Unlike `NOT 微信支付宝`, a
text that has both is still matched by its real 微信支付.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from crawler.text import normalize

__all__ = ["Query", "QuerySyntaxError", "lowercase_operators", "parse_query"]

OPERATORS = frozenset({"AND", "OR", "NOT", "EXCEPT"})
ASCII_ALNUM = frozenset(string.ascii_letters + string.digits)

# Everything but whitespace belongs to one token, so finditer skips exactly the blanks. A phrase
# without its closing quote runs to the end of the query and is reported as unterminated.
_TOKEN_RE = re.compile(r'[()]|"[^"]*"?|[^\s()"]+')
_NOT_GLUED_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_GLUED_AFTER = r"(?![0-9A-Za-z])"

Present = Callable[["Term"], bool]


def lowercase_operators(text: str) -> list[str]:
    """Unquoted words that read like operators but are not upper case (or, And…): they are
    searched as words, which is rarely what was meant."""
    words = (m[0] for m in _TOKEN_RE.finditer(unicodedata.normalize("NFKC", text)))
    return list(dict.fromkeys(w for w in words if w.upper() in OPERATORS and w != w.upper()))


class QuerySyntaxError(ValueError):
    """A topic query that cannot be parsed; the message names the 1-based position and the fix."""


@dataclass(frozen=True)
class Term:
    """A normalised term or phrase (blanks collapsed to single spaces), and the longer words
    containing it that an occurrence must not be part of (`EXCEPT`)."""

    text: str
    excluded: tuple[str, ...] = ()

    def holds(self, present: Present) -> bool:
        return present(self)

    def iter_terms(self, *, include_negated: bool) -> Iterator[Term]:
        yield self

    def unanchored(self) -> Not | None:
        return None


@dataclass(frozen=True)
class Not:
    operand: Node
    position: int

    def holds(self, present: Present) -> bool:
        return not self.operand.holds(present)

    def iter_terms(self, *, include_negated: bool) -> Iterator[Term]:
        if include_negated:
            yield from self.operand.iter_terms(include_negated=True)

    def unanchored(self) -> Not | None:
        return self


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]

    def holds(self, present: Present) -> bool:
        return all(operand.holds(present) for operand in self.operands)

    def iter_terms(self, *, include_negated: bool) -> Iterator[Term]:
        for operand in self.operands:
            yield from operand.iter_terms(include_negated=include_negated)

    def unanchored(self) -> Not | None:
        found = [operand.unanchored() for operand in self.operands]
        return None if None in found else found[0]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]

    def holds(self, present: Present) -> bool:
        return any(operand.holds(present) for operand in self.operands)

    def iter_terms(self, *, include_negated: bool) -> Iterator[Term]:
        for operand in self.operands:
            yield from operand.iter_terms(include_negated=include_negated)

    def unanchored(self) -> Not | None:
        return next((n for operand in self.operands if (n := operand.unanchored())), None)


Node = Term | Not | And | Or


@dataclass(frozen=True)
class _Matcher:
    """Finds one term: a cheap `in` test, then a regex only for the boundary and blank rules or
    for the longer words it must not be part of."""

    needle: str
    pattern: re.Pattern[str] | None
    excluded: tuple[str, ...] = ()

    def found_in(self, text: str) -> bool:
        if self.needle not in text:
            return False
        if not self.excluded:
            return self.pattern is None or self.pattern.search(text) is not None
        assert self.pattern is not None  # _compile gives a term with exclusions its pattern
        covered = _covered(text, self.pattern.pattern, self.excluded)
        return any(m.start() not in covered for m in self.pattern.finditer(text))


def _covered(text: str, term: str, excluded: tuple[str, ...]) -> set[int]:
    """Start positions of the term's occurrences that lie inside an excluded word."""
    covered: set[int] = set()
    for word in excluded:
        offsets = [m.start() for m in re.finditer(f"(?={term})", word)]
        for found in re.finditer(re.escape(word), text):
            covered.update(found.start() + offset for offset in offsets)
    return covered


@dataclass(frozen=True)
class Query:
    """A parsed topic query, with a matcher precompiled for each of its terms."""

    source: str
    tree: Node
    _positive: tuple[Term, ...] = field(init=False, repr=False, compare=False)
    _matchers: dict[Term, _Matcher] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        positive = tuple(dict.fromkeys(self.tree.iter_terms(include_negated=False)))
        matchers = {term: _compile(term) for term in self.tree.iter_terms(include_negated=True)}
        object.__setattr__(self, "_positive", positive)
        object.__setattr__(self, "_matchers", matchers)

    @property
    def terms(self) -> tuple[str, ...]:
        """Distinct terms not under a NOT, in query order."""
        return tuple(dict.fromkeys(term.text for term in self._positive))

    def match(self, text: str) -> list[str] | None:
        """None unless `text` (given by crawler.text.normalize) matches, else its positive terms."""
        found: dict[Term, bool] = {}

        def present(term: Term) -> bool:
            if term not in found:
                found[term] = self._matchers[term].found_in(text)
            return found[term]

        if not self.tree.holds(present):
            return None
        return list(dict.fromkeys(term.text for term in self._positive if present(term)))


def parse_query(source: str) -> Query:
    """Parse a topic query such as `(阿里 OR 淘宝) AND 腾讯 NOT "广告"`."""
    tokens = _tokenize(unicodedata.normalize("NFKC", source))
    tree = _Parser(tokens).parse()
    loose = tree.unanchored()
    if loose is not None:
        raise QuerySyntaxError(
            f'"NOT" at position {loose.position} lets the query match a text that has none of'
            " its terms: combine it with a term that must appear, e.g. 腾讯 NOT 广告"
        )
    return Query(source, tree)


@dataclass(frozen=True)
class _Token:
    kind: str  # "term", "(", ")" or an operator
    text: str
    position: int  # 1-based, in the NFKC-normalised query

    @property
    def starts_operand(self) -> bool:
        return self.kind in ("term", "(", "NOT")


def _tokenize(query: str) -> list[_Token]:
    return [_token(m.group(), m.start() + 1) for m in _TOKEN_RE.finditer(query)]


def _token(text: str, position: int) -> _Token:
    if text in ("(", ")"):
        return _Token(text, text, position)
    if text in OPERATORS:
        return _Token(text, text, position)
    if text.startswith('"'):
        return _Token("term", _phrase(text, position), position)
    return _Token("term", normalize(text), position)


def _phrase(text: str, position: int) -> str:
    if len(text) == 1 or not text.endswith('"'):
        raise QuerySyntaxError(
            f'unterminated quote at position {position}: add the closing " after the phrase'
        )
    phrase = " ".join(normalize(text[1:-1]).split())
    if not phrase:
        raise QuerySyntaxError(
            f"empty phrase at position {position}: put words between the quotes or remove them"
        )
    return phrase


def _compile(term: Term) -> _Matcher:
    words = term.text.split()
    before = term.text[0] in ASCII_ALNUM
    after = term.text[-1] in ASCII_ALNUM
    if len(words) == 1 and not before and not after and not term.excluded:
        return _Matcher(term.text, None)
    body = r"\s+".join(re.escape(word) for word in words)
    pattern = (_NOT_GLUED_BEFORE if before else "") + body + (_NOT_GLUED_AFTER if after else "")
    return _Matcher(max(words, key=len), re.compile(pattern), term.excluded)


class _Parser:
    """Recursive descent over the grammar: or := and (OR and)*; and := not ([AND] not)*;
    not := NOT not | atom; atom := term (EXCEPT term)* | "(" or ")"."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise QuerySyntaxError(
                "empty query at position 1: write at least one term, e.g. 阿里 AND 腾讯"
            )
        tree = self._or()
        if (token := self._peek()) is not None:  # a ")" or a misplaced EXCEPT stops it early
            if token.kind == "EXCEPT":
                raise QuerySyntaxError(
                    f'"EXCEPT" at position {token.position} must follow a term:'
                    " write 微信支付 EXCEPT 微信支付宝"
                )
            raise _unbalanced(token)
        return tree

    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _or(self) -> Node:
        operands = [self._and()]
        while (token := self._peek()) is not None and token.kind == "OR":
            self._take()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Node:
        operands = [self._not()]
        while (token := self._peek()) is not None and (token.kind == "AND" or token.starts_operand):
            if token.kind == "AND":
                self._take()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _not(self) -> Node:
        token = self._peek()
        if token is not None and token.kind == "NOT":
            self._take()
            return Not(self._not(), token.position)
        return self._atom()

    def _atom(self) -> Node:
        token = self._peek()
        if token is None or not token.starts_operand:
            raise self._missing_operand(token)
        self._take()
        if token.kind == "term":
            return self._except(token)
        tree = self._or()
        if self._peek() is None:
            raise QuerySyntaxError(
                f'unclosed "(" at position {token.position}: add the matching ")" or remove it'
            )
        self._take()
        return tree

    def _except(self, term: _Token) -> Term:
        """A term and the longer words after its EXCEPTs, each of which must contain it."""
        excluded = []
        while (token := self._peek()) is not None and token.kind == "EXCEPT":
            self._take()
            word = self._peek()
            if word is None or word.kind != "term":
                raise self._missing_operand(word)
            self._take()
            if term.text not in word.text or term.text == word.text:
                raise QuerySyntaxError(
                    f'"{word.text}" at position {word.position} does not contain "{term.text}":'
                    f" EXCEPT names a longer word the term must not be part of,"
                    f" e.g. 微信支付 EXCEPT 微信支付宝"
                )
            excluded.append(word.text)
        return Term(term.text, tuple(excluded))

    def _missing_operand(self, token: _Token | None) -> QuerySyntaxError:
        """The error for `token` (None at the end) standing where a term was expected."""
        previous = self.tokens[self.index - 1] if self.index else None
        if previous is None:
            return _unbalanced(token) if token and token.kind == ")" else _leading(token)
        if previous.kind == "(":
            return _after_open_paren(previous, token)
        return _after_operator(previous, token)


def _unbalanced(token: _Token) -> QuerySyntaxError:
    return QuerySyntaxError(
        f'unbalanced ")" at position {token.position}: remove it or add the matching "("'
    )


def _leading(token: _Token | None) -> QuerySyntaxError:
    assert token is not None  # an empty query is reported before parsing starts
    return QuerySyntaxError(
        f'"{token.text}" at position {token.position} has no term before it:'
        f' add one or remove "{token.text}"'
    )


def _after_open_paren(paren: _Token, token: _Token | None) -> QuerySyntaxError:
    if token is None:
        return QuerySyntaxError(
            f'unclosed "(" at position {paren.position}: add a term and the matching ")"'
        )
    if token.kind == ")":
        return QuerySyntaxError(
            f"empty parentheses at position {paren.position}: put a term inside or remove them"
        )
    return _leading(token)


def _after_operator(operator: _Token, token: _Token | None) -> QuerySyntaxError:
    if token is None or token.kind == ")":
        return QuerySyntaxError(
            f'"{operator.text}" at position {operator.position} has no term after it:'
            f' add one or remove "{operator.text}"'
        )
    return QuerySyntaxError(
        f'"{token.text}" at position {token.position} follows "{operator.text}" at position'
        f" {operator.position}: put a term between them or remove one"
    )
