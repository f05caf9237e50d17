"""How an API request proves who sent it. A token is issued only with a TOTP code where the user
needs two-factor (api/auth.py); a session counts only once it passed two-factor verification.
The two-factor gate thus depends on how the request was actually authenticated, whatever
headers it carries."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.authentication import SessionScheme
from knox.auth import TokenAuthentication
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from config.errors import PermissionDenied
from reserve.access.two_factor import VERIFY_URL_NAME, session_verified, two_factor_required


class VerifiedSessionAuthentication(SessionAuthentication):
    """The admin's session cookie, refused for a privileged user whose session has not passed
    two-factor verification (under REQUIRE_TWO_FACTOR)."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if two_factor_required(user) and not session_verified(user):
            raise PermissionDenied(
                f"This session has not passed two-factor verification; verify at {reverse(VERIFY_URL_NAME)}",
                code="two_factor_required",
            )
        return result


# Every way a request may authenticate; a test holds each against the two-factor rule.
AUTHENTICATION_CLASSES = (TokenAuthentication, VerifiedSessionAuthentication)


class VerifiedSessionScheme(SessionScheme):
    """The OpenAPI schema states the verified session as the session cookie it is."""

    target_class = "reserve.api.authentication.VerifiedSessionAuthentication"
    priority = 0
