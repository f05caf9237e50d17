"""Query filters shared by the lists: a `from`/`to` date range (from inclusive, to exclusive) on each
list's own time field, and wallet, agency, category and status where the records have them."""

from __future__ import annotations

from typing import TypeVar

import django_filters
from django_filters.rest_framework import DjangoFilterBackend

FilterSetType = TypeVar("FilterSetType", bound=type[django_filters.FilterSet])
BACKENDS = [DjangoFilterBackend]


def date_range(field_name: str):  # type: ignore[no-untyped-def]
    """Add `from` and `to` (names Python cannot declare as attributes) filtering `field_name`."""

    def decorate(filterset: FilterSetType) -> FilterSetType:
        filterset.base_filters["from"] = django_filters.IsoDateTimeFilter(
            field_name=field_name, lookup_expr="gte", label=f"{field_name} at or after (ISO 8601)"
        )
        filterset.base_filters["to"] = django_filters.IsoDateTimeFilter(
            field_name=field_name, lookup_expr="lt", label=f"{field_name} before (ISO 8601, exclusive)"
        )
        return filterset

    return decorate
