"""The service's icon at /favicon.ico, so a browser's first request is not a 404 in the log.

Inline SVG (no external asset, no file to collect): a gold disc with the ledger's double rule.
"""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<circle cx="16" cy="16" r="15" fill="#c8902c"/>'
    '<path d="M9 12h14M9 20h14" stroke="#fff" stroke-width="3"/>'
    "</svg>"
)


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(ICON, content_type="image/svg+xml")
