"""The API's two-factor gate depends on how a request was authenticated, not on its headers: a
password-only session is refused on every endpoint whatever `Authorization` header it adds, and
every authentication class the API accepts is one the rule covers."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from reserve.api.authentication import AUTHENTICATION_CLASSES
from reserve.transfers.models import Transfer
from tests.reserve.admin.test_access import code
from tests.reserve.api.conftest import Books
from tests.reserve.api.test_idempotency import outbound

pytestmark = pytest.mark.django_db

# Headers an insider might add hoping the gate skips the request and DRF falls back to the session.
CRAFTED = ["", "Bearer x", "Basic b3BlcmF0b3ItMTpwYXNzd29yZA==", "Digest username=x", "token", "Tokenx abc"]


def _password_only_session(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)  # the password step, without the TOTP code
    return client


@override_settings(REQUIRE_TWO_FACTOR=True)
@pytest.mark.parametrize("header", CRAFTED)
def test_a_password_only_session_is_refused_whatever_header_it_adds(
    users: dict[str, Any], books: Books, header: str
) -> None:
    # given an operator's session that passed the password but not the second factor
    client = _password_only_session(users["operator"])
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": header} if header else {}
    before = Transfer.objects.count()
    # when it reads and writes
    read = client.get("/api/v1/transfers/", **extra)
    write = client.post(
        "/api/v1/transfers/", outbound(books), format="json", HTTP_IDEMPOTENCY_KEY=f"gate-{header}", **extra
    )
    # then both are refused in the API's error shape and nothing was written
    for response in (read, write):
        assert response.status_code in (401, 403), response.content
        assert "error" in response.json()
    # (a header the token class claims but cannot parse is its 401; any other reaches the session rule)
    assert read.status_code == 401 or read.json()["error"]["code"] == "two_factor_required"
    assert Transfer.objects.count() == before


@override_settings(REQUIRE_TWO_FACTOR=True)
def test_the_same_session_passes_once_verified(users: dict[str, Any], books: Books) -> None:
    # given the operator's device and a password-only session
    device = TOTPDevice.objects.create(user=users["operator"], name="phone", confirmed=True)
    client = _password_only_session(users["operator"])
    assert client.get("/api/v1/transfers/", HTTP_AUTHORIZATION="Bearer x").status_code == 403
    # when the session passes the second factor
    time.sleep(0.1)
    assert client.post(reverse("two_factor_verify"), {"token": code(device)}).status_code == 302
    # then the API accepts it
    assert client.get("/api/v1/transfers/").status_code == 200


@override_settings(REQUIRE_TWO_FACTOR=True)
def test_an_auditor_session_needs_no_second_factor(users: dict[str, Any]) -> None:
    assert _password_only_session(users["auditor"]).get("/api/v1/transfers/").status_code == 200


def _views(patterns: list[Any]) -> list[Any]:
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found.extend(_views(pattern.url_patterns))
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
            if view is not None and hasattr(view, "authentication_classes"):
                found.append(view)
    return found


def test_every_authentication_class_of_every_endpoint_is_covered_by_the_rule() -> None:
    # given every DRF view the URLs route to
    views = _views(get_resolver().url_patterns)
    assert len(views) > 20
    # then each authenticates only in ways the two-factor rule covers
    assert tuple(api_settings.DEFAULT_AUTHENTICATION_CLASSES) == AUTHENTICATION_CLASSES
    uncovered = {
        (view.__name__, auth.__name__)
        for view in views
        for auth in view.authentication_classes
        if auth not in AUTHENTICATION_CLASSES
    }
    assert uncovered == set()
