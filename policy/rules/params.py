"""Reading a rule's `params` object: typed values, defaults, and errors that name the field."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ledger.amounts import MAX_SATS
from policy.types import CATEGORIES, DIRECTIONS

_MISSING: Any = object()


def parse_datetime(value: object) -> datetime:
    """An aware datetime from a datetime or an ISO 8601 string; raises ValueError otherwise."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 date-time") from None
    if not isinstance(value, datetime):
        raise ValueError("must be an ISO 8601 date-time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    return value


class ParamReader:
    """Reads one rule's params; every problem lands in `errors` under `<path>.<name>`. Categories
    are checked against `vocabulary` (the terms in force; the built-in ones by default; None for
    stored rules, checked when they were drafted)."""

    def __init__(
        self, raw: object, path: str, errors: dict[str, list[str]], *, vocabulary: Collection[str] | None = CATEGORIES
    ) -> None:
        self.path = path
        self.errors = errors
        self.vocabulary = vocabulary
        self.seen: set[str] = set()
        if isinstance(raw, Mapping):
            self.raw: Mapping[str, Any] = raw
        else:
            self.raw = {}
            self.errors.setdefault(path, []).append("must be an object")

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(f"{self.path}.{name}", []).append(message)

    def has(self, name: str) -> bool:
        return name in self.raw and self.raw[name] is not None

    def _take(self, name: str, default: Any) -> tuple[bool, Any]:
        """(given, the value); not given: the default, or None for a required param (its error
        recorded), so that no caller ever holds the sentinel."""
        self.seen.add(name)
        if not self.has(name):
            if default is _MISSING:
                self.fail(name, "is required")
                return False, None
            return False, default
        return True, self.raw[name]

    def integer(self, name: str, *, minimum: int, maximum: int, default: Any = _MISSING) -> Any:
        given, value = self._take(name, default)
        if not given:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(name, "must be a whole number")
            return None
        if not minimum <= value <= maximum:
            self.fail(name, f"must be between {minimum} and {maximum}")
            return None
        return value

    def sats(self, name: str, *, default: Any = _MISSING) -> Any:
        return self.integer(name, minimum=0, maximum=MAX_SATS, default=default)

    def choice(self, name: str, choices: tuple[str, ...], *, default: Any = _MISSING) -> Any:
        given, value = self._take(name, default)
        if not given:
            return value
        if value not in choices:
            self.fail(name, f"must be one of: {', '.join(choices)}")
            return None
        return value

    def direction(self, name: str = "direction") -> Any:
        return self.choice(name, DIRECTIONS)

    def boolean(self, name: str, *, default: Any = _MISSING) -> Any:
        given, value = self._take(name, default)
        if given and not isinstance(value, bool):
            self.fail(name, "must be true or false")
            return None
        return value

    def text(self, name: str, *, default: Any = _MISSING) -> Any:
        given, value = self._take(name, default)
        if not given:
            return value
        if not isinstance(value, str) or not value.strip():
            self.fail(name, "must be a non-empty string")
            return None
        return value.strip()

    def decimal(self, name: str, *, minimum: Decimal, maximum: Decimal, default: Any = _MISSING) -> Any:
        """A decimal given as a string ("1000000.00"): floats would not be exact."""
        given, value = self._take(name, default)
        if not given:
            return value
        try:
            number = Decimal(value) if isinstance(value, str) else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            self.fail(name, 'must be a decimal number written as a string, e.g. "1000000.00"')
            return None
        if not minimum <= number <= maximum:
            self.fail(name, f"must be between {minimum} and {maximum}")
            return None
        return number

    def currency(self, name: str = "currency") -> Any:
        given, value = self._take(name, _MISSING)
        if not given:
            return None
        if (
            not isinstance(value, str)
            or len(value) != 3
            or not (value.isascii() and value.isalpha() and value.isupper())
        ):
            self.fail(name, "must be an ISO 4217 code of three capital letters, e.g. USD")
            return None
        return value

    def moment(self, name: str, *, default: Any = _MISSING) -> Any:
        given, value = self._take(name, default)
        if not given:
            return value
        try:
            return parse_datetime(value)
        except ValueError as error:
            self.fail(name, str(error))
            return None

    def listing(self, name: str, *, default: Any = _MISSING) -> list[Any] | None:
        given, value = self._take(name, default)
        if not given:
            return value
        if not isinstance(value, list | tuple):
            self.fail(name, "must be a list")
            return None
        return list(value)

    def categories(self, name: str, *, default: Any = _MISSING, allow_empty: bool = True) -> Any:
        values = self.listing(name, default=default)
        if values is default or values is None:
            return values
        vocabulary = self.vocabulary
        unknown = [] if vocabulary is None else [value for value in values if value not in vocabulary]
        if unknown:
            self.fail(name, f"unknown categories {unknown!r}; known: {', '.join(sorted(vocabulary or ()))}")
            return None
        if not values and not allow_empty:
            self.fail(name, "must list at least one category")
            return None
        return tuple(dict.fromkeys(values))

    def ids(self, name: str, *, default: Any = _MISSING) -> Any:
        values = self.listing(name, default=default)
        if values is default or values is None:
            return values
        if any(isinstance(value, bool) or not isinstance(value, int) or value <= 0 for value in values):
            self.fail(name, "must be a list of positive whole-number ids")
            return None
        return tuple(dict.fromkeys(values))

    def finish(self) -> None:
        for name in self.raw:
            if name not in self.seen:
                self.fail(name, "unknown parameter")
