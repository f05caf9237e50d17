"""Pieces every endpoint shares: strict input, BTC amounts, pagination, one error shape in the schema."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import ValidationFailed
from config.replica import REPLICA, ReplayPosition, replica_reads
from policy.selectors import category_check
from reserve.api.parsers import StrictJSONParser
from reserve.api.permissions import RolePermission
from reserve.api.renderers import CSVRenderer, JSONLinesRenderer
from reserve.common.amounts import btc_text

EARLIEST = datetime(2009, 1, 1, tzinfo=UTC)  # the genesis block is of 2009-01-03
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # leaves room for the day and window arithmetic of reports


class TimeField(serializers.DateTimeField):
    """An ISO 8601 time in UTC, between 2009 (bitcoin's start) and 9999."""

    def to_internal_value(self, value: Any) -> datetime:
        parsed = super().to_internal_value(value)
        if not EARLIEST <= parsed < LATEST:
            raise serializers.ValidationError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
        return parsed


# Context of a StrictInputSerializer that reads the query string (all text) instead of a JSON body.
FROM_QUERY_STRING = "from_query_string"
QUERY_STRING = {FROM_QUERY_STRING: True}
NOT_AN_INTEGER = "must be a JSON integer (a number without quotes, decimals or exponent)"


def _is_json_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _takes_integers(field: serializers.Field) -> bool:
    """An integer field, or a reference to a model whose primary key is an integer."""
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        queryset = field.get_queryset()
        return queryset is not None and isinstance(queryset.model._meta.pk, models.IntegerField)
    return isinstance(field, serializers.IntegerField)


def _integer_problem(field: serializers.Field, value: Any) -> str | None:
    """Why `value` is not what an integer field (a count, satoshis, an id) takes from JSON, or None.

    DRF would read "12", 12.0 and true as 12 and 1; money and ids are taken only as integers."""
    if value is None:
        return None  # allow_null is the field's own business
    if isinstance(field, serializers.ManyRelatedField):
        if not _takes_integers(field.child_relation) or not isinstance(value, list):
            return None
        return None if all(_is_json_integer(item) for item in value) else f"each id {NOT_AN_INTEGER}"
    return NOT_AN_INTEGER if _takes_integers(field) and not _is_json_integer(value) else None


class StrictInputSerializer(serializers.Serializer):
    """Input that refuses fields it does not know, naming them (a typo must not pass silently),
    and takes satoshis, counts and ids only as JSON integers."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["is not a field of this request"] for name in unknown})
            # A JSON body carries types; a query string is all text, parsed by each field.
            problems = (
                {}
                if self.context.get(FROM_QUERY_STRING)
                else {
                    name: [problem]
                    for name, field in self.fields.items()
                    if name in data and not field.read_only and (problem := _integer_problem(field, data[name]))
                }
            )
            if problems:
                raise serializers.ValidationError(problems)
        return super().to_internal_value(data)


class CategoryField(serializers.CharField):
    """A transfer category: one of the governed vocabulary's terms in force (policy.categories)."""

    def to_internal_value(self, data: Any) -> str:
        try:
            return category_check(super().to_internal_value(data))
        except ValidationFailed as error:
            raise serializers.ValidationError(error.fields["category"]) from None


@extend_schema_field({"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{8}$", "example": "1.50000000"})
class BtcField(serializers.Field):
    """A satoshi amount shown as BTC with exactly 8 decimals, as text (never a float)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: int) -> str:
        return btc_text(int(value))


class Pagination(PageNumberPagination):
    page_size = 100


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    # A declared field named like Serializer.fields: the metaclass takes it out of the class namespace.
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


BAD_REQUEST = _error("Bad input; `fields` names each offending field")
UNAUTHENTICATED = _error("No valid token or session")
FORBIDDEN = _error("Authenticated, but no role that may do this")
NOT_FOUND = _error("No such object (or page)")
CONFLICT = _error("Idempotency key reused with another payload, or an illegal state transition")
READ_ERRORS: dict[int, OpenApiResponse] = {400: BAD_REQUEST, 401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND}
WRITE_ERRORS: dict[int, OpenApiResponse] = READ_ERRORS | {409: CONFLICT}

FORMAT_PARAMETER = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=["json", "csv"], description="`csv` for a CSV rendering of the same data"
)


def csv_responses(serializer: Any, description: str = "") -> dict[Any, Any]:
    """The JSON body and its CSV rendering, plus the read errors."""
    return {
        (200, "application/json"): OpenApiResponse(serializer, description=description),
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The same rows as CSV"),
        **{(status, "application/json"): response for status, response in READ_ERRORS.items()},
    }


class ApiMixin:
    """Role checks, JSON input only, JSON/CSV output; errors are always rendered as JSON."""

    permission_classes: Sequence[Any] = [RolePermission]
    parser_classes: Sequence[Any] = [StrictJSONParser]
    renderer_classes: Sequence[Any] = [JSONRenderer, BrowsableAPIRenderer]
    write_roles: frozenset[str] = frozenset()
    write_permission: str = ""  # when set, writes need this permission instead of a role

    # Reports and lists (CsvMixin) may be served by the streaming replica; nothing else is.
    reads_replica: bool = False
    _replica: AbstractContextManager[ReplayPosition] | None = None
    read_position: ReplayPosition | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # After authentication, permissions and throttling (which may write, to the primary).
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if self.reads_replica and request.method in SAFE_METHODS:
            self._replica = replica_reads()
            self.read_position = self._replica.__enter__()

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        finally:
            # Also when an error escaped the handler: the next request in this thread reads the primary.
            if self._replica is not None:
                self._replica.__exit__(None, None, None)
                self._replica = None

    def _state_read_position(self, response: Response) -> None:
        # The snapshot itself is left in `dispatch`, the one place that leaves it.
        if self._replica is None or self.read_position is None:
            return
        position = self.read_position
        for header, value in position.headers().items():
            response[header] = value
        if (position.database == REPLICA or position.reason) and isinstance(getattr(response, "data", None), dict):
            response.data = {"read_from": position.as_dict(), **response.data}

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        self._state_read_position(response)
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        renderer = getattr(response, "accepted_renderer", None)
        if response.status_code >= 400 and isinstance(renderer, CSVRenderer | JSONLinesRenderer):
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = "application/json"
        return response


class CsvMixin(ApiMixin):
    """Reports and lists also render as CSV (`?format=csv`); a viewset's other actions do not."""

    renderer_classes: Sequence[Any] = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    reads_replica = True

    def get_renderers(self) -> list[Any]:
        renderers = super().get_renderers()  # type: ignore[misc]
        if getattr(self, "action", None) in (None, "list"):
            return renderers
        return [renderer for renderer in renderers if not isinstance(renderer, CSVRenderer)]


def list_responses(serializer: Any) -> dict[Any, Any]:
    """A page of `serializer` items as JSON, the page's rows as CSV, and the read errors (JSON)."""
    return {
        (200, "application/json"): serializer(many=True),
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The page's rows as CSV"),
        **{(status, "application/json"): response for status, response in READ_ERRORS.items()},
    }


class StatedPagination(Pagination):
    """A page of figures stated at one point: `as_of`, `height` and `block_hash` beside the results."""

    def __init__(self) -> None:
        self.stated: dict[str, Any] = {"as_of": None, "height": None, "block_hash": None}

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data = {**self.stated, **response.data}
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"] = {
            "as_of": {"type": "string", "format": "date-time", "nullable": True},
            "height": {"type": "integer", "nullable": True},
            "block_hash": {"type": "string", "nullable": True},
            **paginated["properties"],
        }
        return paginated


@extend_schema(exclude=True)
class UnknownEndpointApi(ApiMixin, APIView):
    """Every other path under /api/v1/, whatever the method."""

    permission_classes: Sequence[Any] = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound(f"No endpoint {request.method} {request.path}; the endpoints are in /api/schema/.")
