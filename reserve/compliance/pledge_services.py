"""Making, approving and releasing pledges and liabilities (`reserve.compliance.pledges`):
policy administrators only; the maker never approves their own (the database refuses it too)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.errors import ApplicationError, Conflict, PermissionDenied, ValidationFailed
from ledger.amounts import MAX_SATS
from policy.permissions import DRAFT_VERSION, user_may
from policy.pledge_gate import pledge_refusals
from policy.types import PolicyScope
from reserve.access.roles import maker_checker_refusal
from reserve.audit.services import audit_record
from reserve.common.actions import ActionState
from reserve.common.amounts import btc_text
from reserve.common.free_text import free_text_check
from reserve.compliance.facts import ReservePolicyFacts
from reserve.compliance.models import Pledge, PledgeKind, PledgeStatus
from reserve.custody.models import Agency, Wallet
from reserve.notifications.services import approvers_notify


def _permission_refusal(actor: Any, action: str) -> ApplicationError | None:
    if user_may(actor, DRAFT_VERSION):
        return None
    return PermissionDenied.for_field("actor", f"needs the permission {DRAFT_VERSION} to {action}")


def _require(actor: Any, action: str) -> None:
    refusal = _permission_refusal(actor, action)
    if refusal is not None:
        raise refusal


# A person's decisions on a made record, each with the state it leaves from.
PLEDGE_DECISIONS = {"approve": PledgeStatus.MADE, "release": PledgeStatus.ACTIVE}


def pledge_refusal(*, pledge: Pledge, action: str, actor: Any) -> ApplicationError | None:
    """Why `actor` may not approve or release `pledge` now (None when they may), before the policy
    is asked: the services raise it on the row they hold locked, the admin shows it before the click."""
    not_permitted = _permission_refusal(actor, f"{action} a pledge or liability")
    if not_permitted is not None:
        return not_permitted
    status = pledge.status
    if action == "approve":
        if pledge.made_by_id == actor.pk:
            return maker_checker_refusal(noun="pledge", decision="approve", withdraw="")
        if status != PledgeStatus.MADE:
            return Conflict("the pledge is approved already", fields={"pledge": ["is approved already"]})
        return None
    if status == PledgeStatus.MADE:
        return Conflict("only an approved pledge is released", fields={"pledge": ["is not approved"]})
    if status == PledgeStatus.RELEASED:
        return Conflict("the pledge is released already", fields={"pledge": ["is released already"]})
    return None


def pledge_actions(*, pledge: Pledge, user: Any) -> dict[str, ActionState]:
    """For approve and release: whether a page offers it to `user` (the record's state allows it and
    they may decide on pledges), and the reason the service would still refuse them."""
    states = {}
    for action, source in PLEDGE_DECISIONS.items():
        offered = pledge.status == source and user_may(user, DRAFT_VERSION)
        refusal = pledge_refusal(pledge=pledge, action=action, actor=user) if offered else None
        states[action] = ActionState(offered=offered, refusal=refusal.message if refusal else "")
    return states


def _refuse(pledge: Pledge, action: str, actor: Any) -> None:
    refusal = pledge_refusal(pledge=pledge, action=action, actor=actor)
    if refusal is not None:
        raise refusal


def _scopes(pledge: Pledge) -> list[PolicyScope]:
    """The scopes a record counts in: its wallet's (the wallet, its agency, the perimeter if in it);
    one that names no wallet is owed by the whole reserve (the perimeter and every agency)."""
    wallet = pledge.wallet
    if wallet is None:
        agencies = Agency.objects.values_list("pk", flat=True)
        return [PolicyScope("perimeter"), *(PolicyScope("agency", agency) for agency in agencies)]
    scopes = [PolicyScope("wallet", wallet.pk), PolicyScope("agency", wallet.agency_id)]
    if wallet.in_perimeter:
        scopes.append(PolicyScope("perimeter"))
    return scopes


def pledge_make(
    *,
    actor: Any,
    kind: str,
    amount_sats: int,
    purpose: str,
    reference: str,
    dated: date,
    wallet: Wallet | None = None,
) -> Pledge:
    """Record a pledge, commitment or liability, awaiting a second policy administrator's approval."""
    _require(actor, "record a pledge or liability")
    if kind not in PledgeKind.values:
        raise ValidationFailed.for_field("kind", f"must be one of: {', '.join(PledgeKind.values)}")
    if isinstance(amount_sats, bool) or not isinstance(amount_sats, int) or not 0 < amount_sats <= MAX_SATS:
        raise ValidationFailed.for_field("amount_sats", f"must be a whole number of sats from 1 to {MAX_SATS}")
    if kind != PledgeKind.LIABILITY and wallet is None:
        raise ValidationFailed.for_field("wallet", "a pledge or commitment names the wallet whose coins it holds")
    pledge = Pledge(
        kind=kind,
        wallet=wallet,
        amount_sats=amount_sats,
        purpose=purpose.strip(),
        reference=reference.strip(),
        dated=dated,
        made_by=actor,
    )
    try:
        pledge.full_clean(exclude=["made_by", "wallet"])
    except ValidationError as error:
        fields = error.message_dict
        first = next(iter(fields))
        raise ValidationFailed(f"{first}: {fields[first][0]}", fields=fields) from None
    free_text_check(pledge)
    with transaction.atomic():
        pledge.save()
        audit_record(
            actor=actor,
            action="pledge.make",
            instance=pledge,
            before=None,
            after={"kind": kind, "amount_sats": amount_sats, "wallet": wallet.pk if wallet else None},
        )
        approvers_notify(
            kind="pledge",
            instance=pledge,
            summary=(
                f"{pledge.get_kind_display()} {pledge.pk}: {btc_text(amount_sats)} BTC"
                f"{f' of wallet {wallet.name}' if wallet else ''}, {pledge.purpose}"
            ),
            permission=DRAFT_VERSION,
            proposer=actor,
        )
    return pledge


def pledge_approve(*, pledge: Pledge, approver: Any) -> Pledge:
    """Approve a made record: from now on it encumbers (or, a liability, is outstanding)."""
    with transaction.atomic():
        locked = Pledge.objects.select_for_update().get(pk=pledge.pk)
        _refuse(locked, "approve", approver)
        refusals = pledge_refusals(
            scopes=_scopes(locked), kind=locked.kind, amount_sats=locked.amount_sats, facts=ReservePolicyFacts()
        )
        if refusals:
            raise PermissionDenied("; ".join(refusals), fields={"pledge": refusals})
        locked.approved_by, locked.approved_at = approver, timezone.now()
        locked.save(update_fields=["approved_by", "approved_at"])
        audit_record(actor=approver, action="pledge.approve", instance=locked, before=None, after={"approved": True})
    return locked


def pledge_release(*, pledge: Pledge, actor: Any, reference: str) -> Pledge:
    """Release an approved record (the loan repaid, the purpose met), once, with the document that says so."""
    _require(actor, "release a pledge or liability")
    if not reference.strip():
        raise ValidationFailed.for_field("reference", "name the document that releases it")
    with transaction.atomic():
        locked = Pledge.objects.select_for_update().get(pk=pledge.pk)
        _refuse(locked, "release", actor)
        locked.released_by, locked.released_at = actor, timezone.now()
        locked.release_reference = reference.strip()
        free_text_check(locked)
        locked.save(update_fields=["released_by", "released_at", "release_reference"])
        audit_record(actor=actor, action="pledge.release", instance=locked, before=None, after={"released": True})
    return locked
