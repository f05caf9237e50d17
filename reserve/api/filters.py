"""Query filters shared by the lists: a `from`/`to` date range (from inclusive, to exclusive) on each
list's own time field, and wallet, agency, category and status where the records have them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend

FilterSetType = TypeVar("FilterSetType", bound=type[django_filters.FilterSet])
BACKENDS = [DjangoFilterBackend]


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time turned into UTC here: PostgreSQL refuses offsets beyond +-15:59 that Python accepts."""

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError("is out of the range of times", code="overflow") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


def date_range(field_name: str) -> Callable[[FilterSetType], FilterSetType]:
    """Add `from` and `to` (names Python cannot declare as attributes) filtering `field_name`."""

    def decorate(filterset: FilterSetType) -> FilterSetType:
        filterset.base_filters["from"] = UtcDateTimeFilter(
            field_name=field_name, lookup_expr="gte", label=f"{field_name} at or after (ISO 8601)"
        )
        filterset.base_filters["to"] = UtcDateTimeFilter(
            field_name=field_name, lookup_expr="lt", label=f"{field_name} before (ISO 8601, exclusive)"
        )
        return filterset

    return decorate
