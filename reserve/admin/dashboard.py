"""The admin index as the operators' dashboard: holdings per wallet and agency against the policy
caps in force, open breaches and discrepancies, and the transfers waiting for the user's decision."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from reserve.access.roles import user_roles
from reserve.admin.charts import holdings_svg
from reserve.compliance.selectors import open_breaches, policy_cap_status
from reserve.reconciliation.selectors import open_discrepancies
from reserve.reports.holdings import holdings_report
from reserve.reports.holdings_chart import dashboard_holdings_charts
from reserve.transfers.models import TransferStatus
from reserve.transfers.selectors import involuntary_marks_awaiting_decision, transfer_list, transfers_awaiting_decision

RECENT_ITEMS = 10


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    """UNFOLD["DASHBOARD_CALLBACK"]: the figures the index page shows, for what the user may view."""
    user = request.user
    if user.has_perm("reserve.view_wallet"):
        context["holdings"] = holdings_report(group_by="wallet")
        context["agencies"] = sorted((row.label, row.balance_sats) for row in holdings_report(group_by="agency").rows)
        context["holdings_charts"] = [holdings_svg(chart) for chart in dashboard_holdings_charts()]
    if user_roles(user) or user.is_superuser:
        breaches = open_breaches()
        context["open_breach_count"] = breaches.count()
        context["open_breaches"] = list(breaches[:RECENT_ITEMS])
        context["caps"] = policy_cap_status()
    if user.has_perm("reserve.view_discrepancy"):
        discrepancies = open_discrepancies()
        context["open_discrepancy_count"] = discrepancies.count()
        context["open_discrepancies"] = list(discrepancies[:RECENT_ITEMS])
    context["awaiting"] = list(transfers_awaiting_decision(user=user))
    context["awaiting_marks"] = list(involuntary_marks_awaiting_decision(user=user))
    if user.has_perm("reserve.view_transfer"):
        context["pending_count"] = transfer_list(status=TransferStatus.PENDING_APPROVAL).count()
    return context
