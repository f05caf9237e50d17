"""Query filters shared by the lists: a `from`/`to` date range (from inclusive, to exclusive) on each
list's own time field, and wallet, agency, category and status where the records have them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reserve.custody.models import Agency, Wallet

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


def _id_or_name(model: type[Agency] | type[Wallet], text: str) -> int | None:
    """A wallet's or agency's id given as its id (ASCII digits win) or its unique name; None for no such name."""
    if text.isascii() and text.isdigit():
        return int(text)
    if "\x00" in text or len(text) > model._meta.get_field("name").max_length:  # type: ignore[operator]
        return None  # no record's name (and PostgreSQL refuses NUL in a query)
    return model.objects.filter(name=text).values_list("pk", flat=True).first()


class IdOrNameField(forms.CharField):
    def __init__(self, *, model: type[Agency] | type[Wallet], **kwargs: Any) -> None:
        self.model = model
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        pk = _id_or_name(self.model, text)
        if pk is None:
            raise ValidationError(f"no {self.model._meta.verbose_name} has the id or name {text!r}", code="invalid")
        return pk


@extend_schema_field(OpenApiTypes.STR)
class IdOrNameFilter(django_filters.Filter):
    """`wallet` or `agency` by id or by name: the lists' filters resolve a name to its id here."""

    field_class = IdOrNameField


def wallet_filter(**kwargs: Any) -> IdOrNameFilter:
    return IdOrNameFilter(model=Wallet, **kwargs)


def agency_filter(**kwargs: Any) -> IdOrNameFilter:
    return IdOrNameFilter(model=Agency, **kwargs)


class IdOrNameRelatedField(serializers.PrimaryKeyRelatedField):
    """The reports' `wallet`/`agency` parameter by id or by name, as the lists' filters take it."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and not (data.isascii() and data.isdigit()):
            queryset = self.get_queryset()
            assert queryset is not None
            pk = _id_or_name(queryset.model, data)
            if pk is None:
                self.fail("does_not_exist", pk_value=data)
            return super().to_internal_value(pk)
        return super().to_internal_value(data)
