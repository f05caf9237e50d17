"""The operators' Django admin (django-unfold), one module per area; importing registers them."""

from reserve.admin import (
    audit,
    custody,
    dashboard,
    imports,
    ledger,
    membership,
    policy,
    reconciliation,
    site,
    transfers,
    users,
)

__all__ = [
    "audit",
    "custody",
    "dashboard",
    "imports",
    "ledger",
    "membership",
    "policy",
    "reconciliation",
    "site",
    "transfers",
    "users",
]
