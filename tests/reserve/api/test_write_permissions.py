"""Every API write asks the permission its service checks (one vocabulary for "who may"): a
view names `write_permission`, and only the dry run, which stores nothing, names roles."""

from __future__ import annotations

import pytest
from django.urls import get_resolver

from tests.reserve.api.test_two_factor_gate import _views


@pytest.mark.django_db
def test_every_write_asks_a_permission_the_services_know() -> None:
    from django.contrib.auth.models import Permission

    from reserve.api.permissions import DRY_RUN_ROLES

    # given every view that accepts a write
    writes = [
        view
        for view in _views(get_resolver().url_patterns)
        if any(hasattr(view, method) for method in ("post", "put", "patch", "delete", "create"))
        and view.__name__ not in ("TokenCreateApi", "TokenRevokeApi")
    ]
    assert len(writes) >= 8
    # then each names a permission that exists (the one its service checks), or is the dry run
    known = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}
    unnamed = [
        view.__name__
        for view in writes
        if getattr(view, "write_permission", "") not in known and getattr(view, "write_roles", None) != DRY_RUN_ROLES
    ]
    assert unnamed == []
