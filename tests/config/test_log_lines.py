"""What the service's console log prints: one line per event (config/log_lines.py)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.test import Client


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """The stream of the console handler that LOGGING configures, captured for one test."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if type(handler) is logging.StreamHandler
        and any(f.__class__.__name__ == "OneLinePerEvent" for f in handler.filters)
    ]
    assert len(handlers) == 1, "LOGGING configures exactly one console handler with the filter"
    stream = io.StringIO()
    previous = handlers[0].setStream(stream)
    try:
        yield stream
    finally:
        handlers[0].setStream(previous)


def _lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.django_db
def test_a_forbidden_admin_page_is_one_warning_line_without_traceback(client: Client, auditor, console) -> None:
    client.force_login(auditor)
    console.seek(0)
    console.truncate()  # the login's own line
    response = client.get("/admin/policy/policyversion/add/")  # an auditor may not write policy
    assert response.status_code == 403
    lines = _lines(console)
    assert len(lines) == 1, lines
    assert "WARNING django.request: Forbidden" in lines[0]
    assert "Traceback" not in console.getvalue()


@pytest.mark.django_db
def test_a_server_error_keeps_its_traceback(console) -> None:
    # The filter only shortens client errors: a 500 is logged with its stack, as it must be.
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.utils.log import log_response

    request = RequestFactory().get("/boom")
    try:
        raise RuntimeError("boom")
    except RuntimeError as error:
        log_response(
            "Internal Server Error: %s",
            request.path,
            response=HttpResponse(status=500),
            request=request,
            exception=error,
        )
    assert "Traceback" in console.getvalue()
    assert "RuntimeError: boom" in console.getvalue()


@pytest.mark.django_db
def test_a_login_is_one_line(client: Client, operator, console) -> None:
    operator.set_password("a-long-enough-passphrase")
    operator.save()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": operator.username, "password": "a-long-enough-passphrase"}
    )
    assert response.status_code == 302
    lines = _lines(console)
    assert len(lines) == 1, lines
    assert "Successful login" in lines[0]


def test_the_browser_finds_an_icon_without_a_404(client: Client, console) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg") and b"href" not in response.content  # nothing fetched elsewhere
    assert _lines(console) == []
    assert client.post("/favicon.ico").status_code == 405
