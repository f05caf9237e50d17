"""Writes of wallet membership (which agency holds a wallet, whether it counts in the perimeter):
maker-checker. One person proposes a change; it takes effect only when another approves it, at
the moment of approval (never back-dated, so holdings of the past are never restated), and only
while the wallet holds nothing and has no open transfer: a wallet with bitcoin leaves a scope by a
transfer, which the policy judges, never by a change of label. PostgreSQL guards the
maker-checker and keeps decided memberships immutable (reserve/sql/0014_wallet_membership.sql)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from config.errors import Conflict, ValidationFailed
from ledger.selectors import balances_now
from policy.services import lock_scopes
from policy.types import PolicyScope
from reserve.access.roles import maker_checker_refusal, require_permission
from reserve.audit.services import audit_record, snapshot
from reserve.custody.models import Agency, MembershipStatus, Wallet, WalletMembership
from reserve.custody.selectors import membership_at
from reserve.custody.signals import membership_awaits_approval
from reserve.transfers.models import Transfer, TransferStatus

# Transfers being judged or approved and not yet on chain: they are judged under the membership
# in force when they are decided, so none may be open while it changes (a final approval racing
# the change would otherwise be judged under the membership it read before the change committed).
_OPEN = (TransferStatus.PENDING_APPROVAL, TransferStatus.APPROVED, TransferStatus.BROADCAST)


def membership_register(*, wallet: Wallet, actor: Any) -> WalletMembership:
    """The first membership of a newly registered wallet (its agency and perimeter flag as registered)."""
    return WalletMembership.objects.create(
        wallet=wallet,
        agency_id=wallet.agency_id,
        in_perimeter=wallet.in_perimeter,
        status=MembershipStatus.APPROVED,
        reason="registered",
        effective_from=None,
        proposed_by=actor,
        proposed_at=timezone.now(),
    )


def membership_propose(
    *, wallet: Wallet, actor: Any, reason: str, agency: Agency | None = None, in_perimeter: bool | None = None
) -> WalletMembership:
    """Propose that `wallet` be held by `agency` and/or counted in (or out of) the perimeter."""
    require_permission(actor, "propose_walletmembership", action="propose a change of a wallet's membership")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed.for_field("reason", "say why the membership changes (e.g. the decree or order)")
    with transaction.atomic():
        locked = Wallet.objects.select_for_update().get(pk=wallet.pk)
        target_agency = locked.agency_id if agency is None else agency.pk
        target_perimeter = locked.in_perimeter if in_perimeter is None else in_perimeter
        if (target_agency, target_perimeter) == (locked.agency_id, locked.in_perimeter):
            raise ValidationFailed.for_field("in_perimeter", "is already the membership in force; nothing to change")
        if WalletMembership.objects.filter(wallet=locked, status=MembershipStatus.PROPOSED).exists():
            raise Conflict(
                f"wallet {locked.name} already has an open membership proposal; decide or cancel it first",
                fields={"wallet": ["has an open proposal"]},
            )
        try:
            with transaction.atomic():
                proposal = WalletMembership.objects.create(
                    wallet=locked,
                    agency_id=target_agency,
                    in_perimeter=target_perimeter,
                    reason=reason,
                    proposed_by=actor,
                    proposed_at=timezone.now(),
                )
        except IntegrityError as error:  # a concurrent proposal won the unique index
            raise Conflict(
                f"wallet {locked.name} already has an open membership proposal",
                fields={"wallet": ["has an open proposal"]},
            ) from error
        audit_record(actor=actor, action="membership.propose", instance=proposal, before=None, after=snapshot(proposal))
        membership_awaits_approval.send(sender=WalletMembership, membership=proposal)
    return proposal


def _lock(membership: WalletMembership) -> tuple[WalletMembership, Wallet]:
    wallet = Wallet.objects.select_for_update().select_related("ledger_account").get(pk=membership.wallet_id)
    locked = WalletMembership.objects.select_for_update().get(pk=membership.pk)
    if locked.status != MembershipStatus.PROPOSED:
        raise Conflict(
            f"membership proposal {locked.pk} is {locked.status}, expected proposed",
            fields={"status": [f"is {locked.status}"]},
        )
    return locked, wallet


def _refuse_unless_empty(wallet: Wallet) -> None:
    balance = balances_now(accounts=[wallet.ledger_account])[wallet.ledger_account_id]
    if balance:
        raise Conflict(
            f"wallet {wallet.name} holds {balance} sats: move them with a transfer (which the policy judges) "
            "before it changes agency or perimeter",
            fields={"wallet": ["holds bitcoin"]},
        )
    touching = Q(source_wallet=wallet) | Q(destination_wallet=wallet)
    open_transfers = Transfer.objects.filter(touching, status__in=_OPEN)
    if open_transfers.exists():
        raise Conflict(
            f"wallet {wallet.name} has transfers awaiting approval or the chain; decide, mine or cancel them first",
            fields={"wallet": ["has transfers in flight"]},
        )


def membership_approve(*, membership: WalletMembership, actor: Any, comment: str = "") -> WalletMembership:
    """The second person's approval: the proposed membership is in force from now on."""
    require_permission(actor, "approve_walletmembership", action="approve a change of a wallet's membership")
    with transaction.atomic():
        locked, wallet = _lock(membership)
        if locked.proposed_by_id == actor.pk:
            raise maker_checker_refusal(noun="membership change", decision="approve", withdraw="cancel it")
        # The scopes the wallet leaves and enters: a transfer judged there waits for this, and vice versa.
        now = membership_at(wallet_ids=[wallet.pk])[wallet.pk]
        lock_scopes(
            [
                PolicyScope("perimeter"),
                PolicyScope("agency", now.agency_id),
                PolicyScope("agency", locked.agency_id),
                PolicyScope("wallet", wallet.pk),
            ]
        )
        _refuse_unless_empty(wallet)
        before = snapshot(locked)
        moment = timezone.now()
        locked.status = MembershipStatus.APPROVED
        locked.decided_by = actor
        locked.decided_at = moment
        locked.effective_from = moment
        locked.comment = comment.strip()
        locked.save()
        audit_record(actor=actor, action="membership.approve", instance=locked, before=before, after=snapshot(locked))
    return locked


def membership_reject(*, membership: WalletMembership, actor: Any, comment: str = "") -> WalletMembership:
    require_permission(actor, "approve_walletmembership", action="reject a change of a wallet's membership")
    with transaction.atomic():
        locked, _ = _lock(membership)
        if locked.proposed_by_id == actor.pk:
            raise maker_checker_refusal(noun="membership change", decision="reject", withdraw="cancel it")
        before = snapshot(locked)
        locked.status = MembershipStatus.REJECTED
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.comment = comment.strip()
        locked.save()
        audit_record(actor=actor, action="membership.reject", instance=locked, before=before, after=snapshot(locked))
    return locked


def membership_cancel(*, membership: WalletMembership, actor: Any) -> WalletMembership:
    """The proposer withdraws their proposal."""
    require_permission(actor, "propose_walletmembership", action="cancel a membership proposal")
    with transaction.atomic():
        locked, _ = _lock(membership)
        if locked.proposed_by_id != actor.pk:
            raise Conflict("only the proposer cancels a membership proposal", fields={"actor": ["is not the proposer"]})
        before = snapshot(locked)
        locked.status = MembershipStatus.CANCELLED
        locked.decided_at = timezone.now()
        locked.save()
        audit_record(actor=actor, action="membership.cancel", instance=locked, before=before, after=snapshot(locked))
    return locked
