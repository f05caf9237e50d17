"""The admin's sidebar by task (treasury, policy, reconciliation, books, audit, access) rather
than by app, showing only what the user may view, with counts of what waits for attention."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from ledger.models import Account, Entry, JournalTransaction, PendingTransaction
from policy.models import Category, PolicyBreach, PolicyEvaluation, PolicyVersion
from policy.selectors import categories_awaiting_decision
from reserve.audit.models import AuditEvent
from reserve.compliance.models import FiatTotal, Pledge
from reserve.compliance.selectors import open_breaches, pledges_awaiting_decision
from reserve.custody.models import Agency, Counterparty, Wallet, WalletMembership
from reserve.pricing.models import PriceQuote
from reserve.reconciliation.models import ChainBlock, Discrepancy, ReconciliationRun, WalletUtxo
from reserve.reconciliation.selectors import open_discrepancies
from reserve.transfers.models import Approval, Transfer
from reserve.transfers.selectors import transfers_awaiting_decision

# (section, [(label, icon, model, badge)]); a badge counts what waits for attention.
SECTIONS: list[tuple[str, list[tuple[str, str, type[Model], str]]]] = [
    (
        "Treasury",
        [
            ("Transfers", "swap_horiz", Transfer, "awaiting"),
            ("Wallets", "account_balance_wallet", Wallet, ""),
            ("Wallet memberships", "badge", WalletMembership, ""),
            ("Agencies", "apartment", Agency, ""),
            ("Counterparties", "handshake", Counterparty, ""),
            ("Price quotes", "currency_exchange", PriceQuote, ""),
        ],
    ),
    (
        "Policy",
        [
            ("Breaches", "report", PolicyBreach, "breach"),
            ("Policy versions", "policy", PolicyVersion, ""),
            ("Evaluations", "fact_check", PolicyEvaluation, ""),
            ("Categories", "sell", Category, "category"),
            ("Pledges and liabilities", "lock", Pledge, "pledge"),
            ("Fiat totals", "payments", FiatTotal, ""),
        ],
    ),
    (
        "Reconciliation",
        [
            ("Discrepancies", "difference", Discrepancy, "discrepancy"),
            ("Runs", "sync", ReconciliationRun, ""),
            ("Blocks", "view_in_ar", ChainBlock, ""),
            ("Wallet outputs", "toll", WalletUtxo, ""),
        ],
    ),
    (
        "Books",
        [
            ("Journal", "menu_book", JournalTransaction, ""),
            ("Accounts", "account_tree", Account, ""),
            ("Entries", "list", Entry, ""),
            ("Reservations", "hourglass_top", PendingTransaction, ""),
        ],
    ),
    ("Audit", [("Audit trail", "history", AuditEvent, ""), ("Approvals", "how_to_reg", Approval, "")]),
    (
        "Access",
        [
            ("Users", "person", User, ""),
            ("Groups", "group", Group, ""),
            ("TOTP devices", "phonelink_lock", TOTPDevice, ""),
        ],
    ),
]


BADGES: dict[str, Callable[[HttpRequest], int]] = {
    "awaiting": lambda request: transfers_awaiting_decision(user=request.user).count(),
    "breach": lambda request: open_breaches().count(),
    "discrepancy": lambda request: open_discrepancies().count(),
    "category": lambda request: categories_awaiting_decision(user=request.user).count(),
    "pledge": lambda request: pledges_awaiting_decision(user=request.user).count(),
}


def sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    """UNFOLD["SIDEBAR"]["navigation"]: the sections, each with the pages this user may view."""
    groups: list[dict[str, Any]] = [
        {"items": [{"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}]}
    ]
    for title, entries in SECTIONS:
        items = []
        for label, icon, model, badge in entries:
            model_admin = admin.site._registry.get(model)
            if model_admin is None or not model_admin.has_view_or_change_permission(request):
                continue
            opts = model._meta
            item = {
                "title": label,
                "icon": icon,
                "link": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            }
            if badge and (count := BADGES[badge](request)):
                item["badge"] = str(count)
            items.append(item)
        if items:
            groups.append({"title": title, "separator": True, "items": items})
    return groups
