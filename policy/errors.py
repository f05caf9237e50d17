"""The error a transition gets when the policy refuses it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Conflict
from policy.types import Decision

if TYPE_CHECKING:
    from policy.models import PolicyEvaluation


class PolicyDenied(Conflict):
    """Raised by `policy_enforce` when the policy refuses: at "posting" any decision but
    `allow`, at "proposal" and "approval" a `deny`.

    Carries the decision and its evaluation record, not yet saved: the refused transaction is
    about to roll back, so the record is written after the rollback (`policy_gated_transaction`
    does it when it is the outermost transaction; a face that catches the error calls `settle`).
    """

    code = "policy_denied"

    def __init__(self, *, decision: Decision, evaluation: PolicyEvaluation) -> None:
        # A denial names what denies; a posting short of approvals names what it still needs.
        refusing = "deny" if decision.outcome == "deny" else "needs_approval"
        reasons = [line.reason for line in decision.lines if line.verdict == refusing]
        super().__init__(
            f"Policy {decision.outcome.replace('_', ' ')}: " + " ".join(reasons),
            fields={"policy": reasons},
        )
        self.decision = decision
        self.evaluation = evaluation

    def settle(self) -> None:
        from policy.services import policy_record_denial

        policy_record_denial(denied=self)
