"""The topic query language: terms, "phrases", AND, OR, NOT and parentheses.

Precedence is NOT > AND (explicit or implicit, between adjacent operands) > OR. Operators are
only operators when written in upper case; the query is NFKC-normalised first, so full-width
（）＂ＡＮＤ work as their ASCII forms. Terms match as substrings of normalised text, except that a
term beginning or ending with an ASCII letter or digit must not be glued to another one there.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from crawler.text import normalize

__all__ = ["Query", "QuerySyntaxError", "lowercase_operators", "parse_query"]

OPERATORS = frozenset({"AND", "OR", "NOT"})
ASCII_ALNUM = frozenset(string.ascii_letters + string.digits)

# Everything but whitespace belongs to one token, so finditer skips exactly the blanks. A phrase
# without its closing quote runs to the end of the query and is reported as unterminated.
_TOKEN_RE = re.compile(r'[()]|"[^"]*"?|[^\s()"]+')
_NOT_GLUED_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_GLUED_AFTER = r"(?![0-9A-Za-z])"

Present = Callable[[str], bool]


def lowercase_operators(text: str) -> list[str]:
    """Unquoted words that read like operators but are not upper case (or, And…): they are
    searched as words, which is rarely what was meant."""
    words = (m[0] for m in _TOKEN_RE.finditer(unicodedata.normalize("NFKC", text)))
    return list(dict.fromkeys(w for w in words if w.upper() in OPERATORS and w != w.upper()))


class QuerySyntaxError(ValueError):
    """A topic query that cannot be parsed; the message names the 1-based position and the fix."""


@dataclass(frozen=True)
class Term:
    """A normalised term or phrase; a phrase's blanks are collapsed to single spaces."""

    text: str

    def holds(self, present: Present) -> bool:
        return present(self.text)

    def iter_terms(self, *, include_negated: bool) -> Iterator[str]:
        yield self.text

    def unanchored(self) -> Not | None:
        return None


@dataclass(frozen=True)
class Not:
    operand: Node
    position: int

    def holds(self, present: Present) -> bool:
        return not self.operand.holds(present)

    def iter_terms(self, *, include_negated: bool) -> Iterator[str]:
        if include_negated:
            yield from self.operand.iter_terms(include_negated=True)

    def unanchored(self) -> Not | None:
        return self


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]

    def holds(self, present: Present) -> bool:
        return all(operand.holds(present) for operand in self.operands)

    def iter_terms(self, *, include_negated: bool) -> Iterator[str]:
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

    def iter_terms(self, *, include_negated: bool) -> Iterator[str]:
        for operand in self.operands:
            yield from operand.iter_terms(include_negated=include_negated)

    def unanchored(self) -> Not | None:
        return next((n for operand in self.operands if (n := operand.unanchored())), None)


Node = Term | Not | And | Or


@dataclass(frozen=True)
class _Matcher:
    """Finds one term: a cheap `in` test, then a regex only for the boundary and blank rules."""

    needle: str
    pattern: re.Pattern[str] | None

    def found_in(self, text: str) -> bool:
        if self.needle not in text:
            return False
        return self.pattern is None or self.pattern.search(text) is not None


@dataclass(frozen=True)
class Query:
    """A parsed topic query, with a matcher precompiled for each of its terms."""

    source: str
    tree: Node
    _positive: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _matchers: dict[str, _Matcher] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        positive = tuple(dict.fromkeys(self.tree.iter_terms(include_negated=False)))
        matchers = {term: _compile(term) for term in self.tree.iter_terms(include_negated=True)}
        object.__setattr__(self, "_positive", positive)
        object.__setattr__(self, "_matchers", matchers)

    @property
    def terms(self) -> tuple[str, ...]:
        """Distinct terms not under a NOT, in query order."""
        return self._positive

    def match(self, text: str) -> list[str] | None:
        """None unless `text` (given by crawler.text.normalize) matches, else its positive terms."""
        found: dict[str, bool] = {}

        def present(term: str) -> bool:
            if term not in found:
                found[term] = self._matchers[term].found_in(text)
            return found[term]

        if not self.tree.holds(present):
            return None
        return [term for term in self._positive if present(term)]


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


def _compile(term: str) -> _Matcher:
    words = term.split()
    before = term[0] in ASCII_ALNUM
    after = term[-1] in ASCII_ALNUM
    if len(words) == 1 and not before and not after:
        return _Matcher(term, None)
    body = r"\s+".join(re.escape(word) for word in words)
    pattern = (_NOT_GLUED_BEFORE if before else "") + body + (_NOT_GLUED_AFTER if after else "")
    return _Matcher(max(words, key=len), re.compile(pattern))


class _Parser:
    """Recursive descent over the grammar: or := and (OR and)*; and := not ([AND] not)*;
    not := NOT not | atom; atom := term | "(" or ")"."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise QuerySyntaxError(
                "empty query at position 1: write at least one term, e.g. 阿里 AND 腾讯"
            )
        tree = self._or()
        if self._peek() is not None:  # only a ")" can stop the grammar early
            raise _unbalanced(self.tokens[self.index])
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
            return Term(token.text)
        tree = self._or()
        if self._peek() is None:
            raise QuerySyntaxError(
                f'unclosed "(" at position {token.position}: add the matching ")" or remove it'
            )
        self._take()
        return tree

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
