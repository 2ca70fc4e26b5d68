"""Parsing helpers the site modules share: compiled CSS selectors, class tests, text tidying,
and a decoder for Nuxt 3's `__NUXT_DATA__` payload (huxiu today; any Nuxt site tomorrow)."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import lxml.html
from lxml.cssselect import CSSSelector

NUXT_DATA_XPATH = "//script[@id='__NUXT_DATA__']/text()"


class NuxtDataError(ValueError):
    """A __NUXT_DATA__ payload that is not a well-formed devalue array."""


@functools.cache
def _compiled_css(selector: str) -> CSSSelector:
    return CSSSelector(selector, translator="html")


def css(root: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    """root.cssselect(selector) with the selector compiled once per process, not per call."""
    return _compiled_css(selector)(root)


def has_class(name: str) -> str:
    """An XPath predicate for elements with the CSS class `name` among others.

    The cheap substring test runs first, so the exact token test (which builds a string per
    element) only runs on the few elements that might match.
    """
    return f"contains(@class, '{name}') and contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


# Text ----------------------------------------------------------------------------------------


def squash(text: str) -> str:
    """text with every run of whitespace (line breaks included) made one space, and stripped."""
    return " ".join(text.split())


def joined_text(parts: Iterable[str], *, sep: str = "") -> str:
    """Text nodes joined with sep (a space where inline nodes are separate words), squashed."""
    return squash(sep.join(parts))


def stripped(value: Any) -> str:
    """A JSON value as text: a string stripped, anything else (None, a number, a list) empty."""
    return value.strip() if isinstance(value, str) else ""


# Nuxt 3 payload (devalue) --------------------------------------------------------------------

# devalue's negative references: undefined, an array hole, NaN, ±Infinity, -0.
SPECIAL_REFERENCES: dict[int, Any] = {
    -1: None,
    -2: None,
    -3: math.nan,
    -4: math.inf,
    -5: -math.inf,
    -6: -0.0,
}
# Nuxt's revivers that only wrap a value (reactivity does not matter to a reader).
NUXT_WRAPPERS = frozenset({"ShallowReactive", "Reactive", "ShallowRef", "Ref", "NuxtError"})
# Empty refs carry their value as a JSON text; "_" is undefined and "0n" a zero BigInt.
NUXT_EMPTY_REFS = frozenset({"EmptyRef", "EmptyShallowRef"})


class NuxtPayload:
    """A Nuxt 3 __NUXT_DATA__ array, resolved on demand with memoisation and cycle protection.

    Inside objects and arrays every number is an index into the top-level array; a list whose
    first item is a string is a typed value (Date, Set, Map…) or a Nuxt wrapper.
    """

    def __init__(self, values: list[Any]) -> None:
        self._values = values
        self._resolved: dict[int, Any] = {}
        self._pending: set[int] = set()

    @classmethod
    def from_json(cls, text: str) -> NuxtPayload:
        """Parse the script's JSON text."""
        try:
            values = json.loads(text)
        except ValueError as exc:
            raise NuxtDataError(f"__NUXT_DATA__ is not JSON: {exc}") from None
        if not isinstance(values, list) or not values:
            raise NuxtDataError("__NUXT_DATA__ is not a non-empty JSON array")
        return cls(values)

    def root(self) -> Any:
        """The whole payload."""
        return self.resolve(0)

    def find_key(self, prefix: str) -> Iterator[tuple[str, Any]]:
        """Resolved values of every object key starting with prefix, without resolving the rest."""
        for value in self._values:
            if isinstance(value, dict):
                for key, reference in value.items():
                    if key.startswith(prefix):
                        yield key, self.resolve(reference)

    def resolve(self, reference: Any) -> Any:
        """The value a reference (an index into the array) stands for."""
        if isinstance(reference, bool) or not isinstance(reference, int):
            raise NuxtDataError(f"reference {reference!r} is not an index")
        if reference < 0:
            if reference not in SPECIAL_REFERENCES:
                raise NuxtDataError(f"unknown special reference {reference}")
            return SPECIAL_REFERENCES[reference]
        if reference in self._resolved:
            return self._resolved[reference]
        if reference >= len(self._values):
            raise NuxtDataError(f"reference {reference} beyond the {len(self._values)} values")
        if reference in self._pending:
            # Only a wrapper can come back to itself before it is resolved: objects and arrays
            # are memoised before their members, so real cycles between them resolve.
            raise NuxtDataError(f"reference cycle through wrapper at index {reference}")
        self._pending.add(reference)
        try:
            return self._hydrate(reference, self._values[reference])
        finally:
            self._pending.discard(reference)

    def _hydrate(self, index: int, value: Any) -> Any:
        if isinstance(value, dict):
            hydrated: dict[str, Any] = {}
            self._resolved[index] = hydrated  # before the members: a member may point back
            for key, reference in value.items():
                hydrated[key] = self.resolve(reference)
            return hydrated
        if isinstance(value, list):
            if value and isinstance(value[0], str):
                result = self._typed(index, value[0], value[1:])
            else:
                items: list[Any] = []
                self._resolved[index] = items
                items.extend(self.resolve(reference) for reference in value)
                return items
        else:
            result = value  # a string, number, boolean or null stands for itself
        self._resolved[index] = result
        return result

    def _typed(self, index: int, kind: str, args: list[Any]) -> Any:
        if kind in NUXT_WRAPPERS:
            return self.resolve(args[0]) if args else None
        if kind in NUXT_EMPTY_REFS:
            return _empty_ref_value(self.resolve(args[0])) if args else None
        if kind == "Date":
            return _parse_date(args[0]) if args else None
        if kind == "Set":
            members: list[Any] = []
            self._resolved[index] = members
            members.extend(self.resolve(reference) for reference in args)
            return members
        if kind in ("Map", "null"):
            return self._mapping(index, kind, args)
        if kind == "BigInt":
            try:
                return int(args[0])
            except (IndexError, TypeError, ValueError):
                raise NuxtDataError(f"malformed BigInt at index {index}: {args!r}") from None
        if kind in ("RegExp", "Object"):
            return args[0] if args else None
        # Another reviver (an island, a custom type): read it as a wrapper of its first value.
        if args and isinstance(args[0], int) and not isinstance(args[0], bool):
            return self.resolve(args[0])
        return args[0] if args else None

    def _mapping(self, index: int, kind: str, args: list[Any]) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        self._resolved[index] = mapping
        for position in range(0, len(args) - 1, 2):
            # A null-prototype object keeps literal keys; a Map's keys are references too.
            key = args[position] if kind == "null" else self.resolve(args[position])
            value = self.resolve(args[position + 1])
            try:
                mapping[key] = value
            except TypeError:  # an unhashable Map key (an object): keep its text
                mapping[repr(key)] = value
        return mapping


def _empty_ref_value(text: Any) -> Any:
    if not isinstance(text, str) or text == "_":
        return None
    if text == "0n":
        return 0
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_date(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
