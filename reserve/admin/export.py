"""The CSV export of an admin list: the rows the list shows under the same filters, search and
ordering (every page, not only the one on screen), its columns as displayed, each cell neutralised
against spreadsheet formulas (`reserve/common/csv_rows.csv_cell`). Whoever may view the list may
export it; nobody else."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import display_for_value, label_for_field, lookup_field
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils.html import strip_tags
from unfold.decorators import action

from reserve.common.csv_rows import csv_cell

EXPORT_ACTION = "export_csv"


class _Echo:
    def write(self, value: str) -> str:
        return value


class CsvExportMixin:
    """Adds "Export CSV" to a changelist; the link carries the list's query string."""

    actions_list = (EXPORT_ACTION,)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        if isinstance(response, TemplateResponse) and response.context_data and request.GET:
            query = request.GET.urlencode()
            for item in response.context_data.get("actions_list") or []:
                if isinstance(item, dict) and item.get("path", "").endswith(f"/{EXPORT_ACTION}/"):
                    item["path"] = f"{item['path']}?{query}"
        return response

    @action(description="Export CSV", url_path=EXPORT_ACTION, permissions=["view"])
    def export_csv(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        admin: Any = self
        if not admin.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = admin.get_changelist_instance(request)
        except IncorrectLookupParameters as error:
            return HttpResponseBadRequest(f"filter: {error}", content_type="text/plain")
        fields = [name for name in changelist.list_display if name != "action_checkbox"]
        header = [strip_tags(str(label_for_field(name, admin.model, admin))) or name for name in fields]
        writer = csv.writer(_Echo())

        def lines() -> Iterator[str]:
            yield writer.writerow(header)
            for row in changelist.queryset.iterator(chunk_size=2000):
                yield writer.writerow([csv_cell(_value(admin, row, name)) for name in fields])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        name = admin.model._meta.model_name
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response


def _value(admin: Any, row: Model, name: str) -> str:
    """The cell as the list displays it, without its HTML."""
    field, _attr, value = lookup_field(name, row, admin)
    if field is not None and getattr(field, "choices", None):
        value = getattr(row, f"get_{field.name}_display")()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return strip_tags(str(display_for_value(value, "")))
