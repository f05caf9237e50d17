"""Who may call what. Every role reads; a write names on its view the permission its service
checks (`write_permission`), so the API and the services share one vocabulary for "who may".
Only a write that stores nothing (the dry run) names roles instead (`write_roles`)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from policy.permissions import user_may
from reserve.access.roles import AUDITOR, ROLES, user_roles

READ_ROLES = frozenset(ROLES)
# A dry run stores nothing, so it is a read for every role, auditors included.
DRY_RUN_ROLES = READ_ROLES
__all__ = ["AUDITOR", "DRY_RUN_ROLES", "READ_ROLES", "RolePermission"]


def request_roles(request: Request) -> frozenset[str]:
    """The caller's roles, read once per request."""
    cached = getattr(request, "_reserve_roles", None)
    if cached is None:
        cached = user_roles(request.user)
        request._reserve_roles = cached  # type: ignore[attr-defined]
    return cached


class RolePermission(BasePermission):
    """Safe methods need any role; other methods the view's `write_permission` where it names
    one (so the API asks what the service will check), else one of its `write_roles`.

    Anonymous callers fail authentication first (401); authenticated callers without the
    permission or role get 403 naming what would let them.
    """

    message = "You do not have a role that may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not hasattr(view, (request.method or "").lower()):
            return True  # no such operation here: the view answers 405, whoever asks
        if not (request.user and request.user.is_authenticated):
            return False
        permission = getattr(view, "write_permission", "")
        if permission and request.method not in SAFE_METHODS:
            if user_may(request.user, permission):
                return True
            self.message = f"This needs the permission {permission}, which you do not hold."
            return False
        roles = request_roles(request)
        allowed: frozenset[str] = (
            READ_ROLES if request.method in SAFE_METHODS else getattr(view, "write_roles", frozenset())
        )
        if roles & allowed:
            return True
        self.message = (
            f"This needs one of the roles {', '.join(sorted(allowed))}; you have "
            f"{', '.join(sorted(roles)) if roles else 'none'}."
        )
        return False
