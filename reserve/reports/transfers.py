"""What an auditor reads about one transfer besides its own fields: the policy evaluations that gated it."""

from __future__ import annotations

from django.db.models import QuerySet

from policy.models import PolicyEvaluation
from reserve.transfers.models import Transfer


def transfer_policy_evaluations(*, transfer: Transfer) -> QuerySet[PolicyEvaluation]:
    return PolicyEvaluation.objects.filter(subject_type="reserve.transfer", subject_id=str(transfer.pk)).order_by(
        "created_at", "id"
    )
