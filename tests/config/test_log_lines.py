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


@pytest.fixture
def every_handler() -> Iterator[io.StringIO]:
    """One stream behind every stream handler that logging holds (Django's own defaults included),
    so a line printed by any of them is seen, as `make run`'s terminal shows them all."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict))]
    handlers = {
        id(handler): handler
        for logger in loggers
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler) and not type(handler).__module__.startswith("_pytest")
    }
    stream = io.StringIO()
    previous = {key: handler.setStream(stream) for key, handler in handlers.items()}
    try:
        yield stream
    finally:
        for key, handler in handlers.items():
            handler.setStream(previous[key])


@pytest.mark.django_db
def test_a_client_error_is_warned_once_with_debug_on_as_make_run_has_it(
    client: Client, auditor, settings, every_handler
) -> None:
    # given: DEBUG on, as the local settings of `make run` have it (Django then adds a console of its own)
    settings.DEBUG = True
    client.force_login(auditor)
    every_handler.seek(0)
    every_handler.truncate()
    # when: a page that is not there, and one the auditor may not open
    assert client.get("/no-such-page/").status_code == 404
    assert client.get("/admin/policy/policyversion/add/").status_code == 403
    # then: each is one warning line, in the service's format, without traceback
    lines = _lines(every_handler)
    assert len(lines) == 2, lines
    assert "WARNING django.request: Not Found: /no-such-page/" in lines[0]
    assert "WARNING django.request: Forbidden" in lines[1]
    assert "Traceback" not in every_handler.getvalue()


def test_the_development_servers_access_line_is_kept_for_success_and_dropped_after_a_warning(console) -> None:
    # as runserver logs them (django/core/servers/basehttp.py): a failed request's line repeats django.request's
    server = logging.getLogger("django.server")
    server.info('"GET /admin/ HTTP/1.1" 200 5120', extra={"status_code": 200})
    server.warning('"GET /no-such-page HTTP/1.1" 404 3508', extra={"status_code": 404})
    server.error('"GET /boom HTTP/1.1" 500 145', extra={"status_code": 500})
    lines = _lines(console)
    assert len(lines) == 1 and lines[0].endswith('INFO django.server: "GET /admin/ HTTP/1.1" 200 5120'), lines


def test_the_browser_finds_an_icon_without_a_404(client: Client, console) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg") and b"href" not in response.content  # nothing fetched elsewhere
    assert _lines(console) == []
    assert client.post("/favicon.ico").status_code == 405
