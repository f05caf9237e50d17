"""The error a posting gets when the policy refuses it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Conflict
from policy.types import Decision

if TYPE_CHECKING:
    from policy.models import PolicyEvaluation


class PolicyDenied(Conflict):
    """Raised by `policy_enforce(gate="posting")` when the decision is not `allow`.

    Carries the decision and its evaluation record, not yet saved: the posting's transaction
    is about to roll back, so the record is written after the rollback by
    `policy_record_denial` (which `policy_posting_transaction` does for you).
    """

    code = "policy_denied"

    def __init__(self, *, decision: Decision, evaluation: PolicyEvaluation) -> None:
        reasons = [line.reason for line in decision.lines if line.verdict != "allow"]
        super().__init__(
            f"Policy {decision.outcome.replace('_', ' ')}: " + " ".join(reasons),
            fields={"policy": reasons},
        )
        self.decision = decision
        self.evaluation = evaluation
