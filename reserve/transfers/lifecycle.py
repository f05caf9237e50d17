"""The transfer state machine: which action may move a transfer from which status, under which
permission and guards. Services enforce it (under the row lock); the admin and API ask it which
actions a user has, so no face re-derives a guard.

draft -> pending_approval -> approved -> broadcast -> confirmed -> final, with the side exits
rejected, cancelled, failed and reorged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config.errors import ApplicationError, Conflict
from reserve.access.roles import maker_checker_refusal
from reserve.common.actions import ActionState
from reserve.transfers.models import BuiltPsbt, PsbtStatus, Transfer, TransferDirection, TransferStatus

S = TransferStatus
OPEN_STATUSES = (S.DRAFT, S.PENDING_APPROVAL, S.APPROVED)


@dataclass(frozen=True)
class Transition:
    action: str
    verb: str  # as the refusal says it: "cannot <verb> transfer 7"
    permission: str
    sources: tuple[str, ...]
    target: str  # the status it moves to (confirm and approve may stay put until their condition holds)


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("propose", "propose", "propose_transfer", (S.DRAFT,), S.PENDING_APPROVAL),
        Transition("approve", "approve", "approve_transfer", (S.PENDING_APPROVAL,), S.APPROVED),
        Transition("reject", "reject", "approve_transfer", (S.PENDING_APPROVAL,), S.REJECTED),
        Transition("cancel", "cancel", "propose_transfer", OPEN_STATUSES, S.CANCELLED),
        Transition("mark_broadcast", "mark broadcast", "execute_transfer", (S.APPROVED,), S.BROADCAST),
        Transition("mark_failed", "mark failed", "execute_transfer", (S.APPROVED, S.BROADCAST), S.FAILED),
        Transition("confirm", "confirm", "execute_transfer", (S.APPROVED, S.BROADCAST, S.REORGED), S.CONFIRMED),
        Transition("finalize", "finalize", "execute_transfer", (S.CONFIRMED,), S.FINAL),
        Transition("mark_reorged", "mark reorged", "execute_transfer", (S.CONFIRMED, S.FINAL), S.REORGED),
    )
}
# What a person can do from the admin's transfer page (the rest is the chain's doing).
PERSON_ACTIONS = ("approve", "reject", "cancel", "mark_broadcast", "mark_failed")


def transition_refusal(transfer: Transfer, action: str, *, actor: Any) -> ApplicationError | None:
    """Why `actor` (None: a scheduled job) may not take `action` on `transfer` as it stands, as the
    error the service raises; None when the state machine allows it. Permissions are checked by
    the services before they lock; this judges status and the guards of the transition."""
    transition = TRANSITIONS[action]
    if transfer.status not in transition.sources:
        return Conflict(
            f"cannot {transition.verb} transfer {transfer.pk}: it is {transfer.status}, "
            f"expected {' or '.join(transition.sources)}",
            fields={"status": [f"is {transfer.status}"]},
        )
    if action in ("approve", "reject") and actor is not None:
        if transfer.proposer_id == actor.pk:
            return maker_checker_refusal(
                noun="transfer", decision="approve" if action == "approve" else "reject", withdraw="cancel it"
            )
        if transfer.pk and transfer.approvals.filter(approver=actor).exists():
            return Conflict(
                f"{actor.get_username()} has already decided on this transfer", fields={"approver": ["already decided"]}
            )
    if (
        action == "cancel"
        and transfer.pk
        and BuiltPsbt.objects.filter(transfer=transfer, status=PsbtStatus.BROADCASTING).exists()
    ):
        # Its txid is recorded and the node may hold it: the coins stay held until it is known dead.
        return Conflict(
            f"transfer {transfer.pk}'s transaction is being broadcast; mark it failed once it is known dead",
            fields={"status": ["broadcasting"]},
        )
    if action == "mark_broadcast" and transfer.direction == TransferDirection.INBOUND:
        return Conflict(
            "an inbound transfer is broadcast by the sender; confirm it when it is mined",
            fields={"direction": ["is inbound"]},
        )
    return None


def transition_check(transfer: Transfer, action: str, *, actor: Any) -> None:
    """Raise the refusal, if any (services call this on the row they hold locked)."""
    refusal = transition_refusal(transfer, action, actor=actor)
    if refusal is not None:
        raise refusal


def transfer_actions(*, transfer: Transfer, user: Any) -> dict[str, ActionState]:
    """For each action a person takes on a transfer: whether the page offers it to `user`, and
    the reason the service would refuse it (the same rule, asked before the click)."""
    states = {}
    for action in PERSON_ACTIONS:
        transition = TRANSITIONS[action]
        offered = transfer.status in transition.sources and user.has_perm(f"reserve.{transition.permission}")
        refusal = transition_refusal(transfer, action, actor=user) if offered else None
        states[action] = ActionState(offered=offered, refusal=refusal.message if refusal else "")
    return states
