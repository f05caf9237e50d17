"""The public transparency page: no login, server-rendered, no external assets; also as JSON, and
the latest publishable statement to download."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from reserve.common.amounts import btc_text
from reserve.proofs.statements import statement_document
from reserve.public.selectors import publishable_statement, transparency

CHART_WIDTH, CHART_HEIGHT = 600, 200


def _chart(history: list[dict[str, int]]) -> dict[str, Any]:
    """SVG polyline points (a step line) of the total over the blocks where it changed."""
    if not history:
        return {"points": "", "width": CHART_WIDTH, "height": CHART_HEIGHT}
    low, high = history[0]["height"], max(history[-1]["height"], history[0]["height"] + 1)
    top = max(max(row["total_sats"] for row in history), 1)

    def x(height: int) -> float:
        return round((height - low) / (high - low) * CHART_WIDTH, 1)

    def y(sats: int) -> float:
        return round(CHART_HEIGHT - sats / top * CHART_HEIGHT, 1)

    points: list[str] = []
    previous: float = CHART_HEIGHT
    for row in history:
        points += [f"{x(row['height'])},{previous}", f"{x(row['height'])},{y(row['total_sats'])}"]
        previous = y(row["total_sats"])
    points.append(f"{CHART_WIDTH},{previous}")
    return {"points": " ".join(points), "width": CHART_WIDTH, "height": CHART_HEIGHT, "low": low, "high": high}


@require_GET
def transparency_page(request: HttpRequest) -> HttpResponse:
    data = transparency()
    context = {
        **data,
        "total_btc": btc_text(data["total_sats"]),
        "wallets": [{**row, "balance_btc": btc_text(row["balance_sats"])} for row in data["wallets"]],
        "chart": _chart(data["history"]),
    }
    return render(request, "reserve/public/transparency.html", context)


@require_GET
def transparency_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(transparency())


@require_GET
def statement_download(request: HttpRequest, pk: int) -> HttpResponse:
    data = transparency()
    proof = publishable_statement(
        {row["name"] for row in data["wallets"]}, {a for row in data["wallets"] for a in row["addresses"]}
    )
    if proof is None or proof.pk != pk:
        raise Http404("no such published statement")
    body = json.dumps(statement_document(proof=proof), indent=1, sort_keys=True)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="statement-{proof.pk}.json"'
    return response
