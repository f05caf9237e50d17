"""The operators' Django admin (django-unfold), one module per area; importing registers them."""

from reserve.admin import (
    audit,
    categories,
    custody,
    dashboard,
    fiat_totals,
    imports,
    ledger,
    membership,
    pledges,
    policy,
    reconciliation,
    site,
    transfers,
    users,
)

__all__ = [
    "audit",
    "categories",
    "custody",
    "dashboard",
    "fiat_totals",
    "imports",
    "ledger",
    "membership",
    "pledges",
    "policy",
    "reconciliation",
    "site",
    "transfers",
    "users",
]
