"""Numbers as people type them into files and forms: ASCII digits only. Python's int() and
Decimal() also read other scripts' digits (an Arabic-Indic one is 1) and str.isdigit() accepts
a superscript two, which int() then refuses: every parser of operator input checks with these first."""

from __future__ import annotations

import re

_UNSIGNED = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def is_unsigned_integer(text: str) -> bool:
    return _UNSIGNED.fullmatch(text) is not None


def is_signed_integer(text: str) -> bool:
    return _SIGNED.fullmatch(text) is not None


def is_decimal(text: str) -> bool:
    """A plain decimal number ("0.1", "-2", "1e3"); no NaN, Infinity or non-ASCII digits."""
    return _DECIMAL.fullmatch(text) is not None
