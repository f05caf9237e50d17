"""Policy reads the API offers on reserve's facts: a dry run of transfer fields (stored nowhere) and
the compliance report over a period for one policy or every approved one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from config.errors import ValidationFailed
from policy.models import Policy, PolicyVersion
from policy.selectors import APPROVED, ComplianceRow, policy_compliance_report, policy_evaluate
from policy.types import Decision
from reserve.addresses import parse_address
from reserve.models import Counterparty, Transfer, TransferDirection, Wallet
from reserve.policy_facts import ReservePolicyFacts
from reserve.services.transfers import transfer_change

MAX_COMPLIANCE_DAYS = 366


def _check_ends(
    *, direction: str, source_wallet: Wallet | None, destination_wallet: Wallet | None, external_address: str
) -> str:
    if direction in (TransferDirection.OUTBOUND, TransferDirection.INTERNAL) and source_wallet is None:
        raise ValidationFailed.for_field("source_wallet", f"an {direction} transfer leaves one of our wallets")
    if direction in (TransferDirection.INBOUND, TransferDirection.INTERNAL) and destination_wallet is None:
        raise ValidationFailed.for_field("destination_wallet", f"an {direction} transfer lands in one of our wallets")
    if direction == TransferDirection.INBOUND and source_wallet is not None:
        raise ValidationFailed.for_field("source_wallet", "an inbound transfer comes from outside; use internal")
    if direction == TransferDirection.OUTBOUND and destination_wallet is not None:
        raise ValidationFailed.for_field("destination_wallet", "an outbound transfer goes outside; use internal")
    if not external_address.strip():
        return ""
    wallet = source_wallet or destination_wallet
    assert wallet is not None
    return parse_address(address=external_address, network=wallet.network, field="external_address").address


def transfer_dry_run(
    *,
    actor: Any,
    direction: str,
    category: str,
    amount_sats: int,
    fee_sats: int = 0,
    source_wallet: Wallet | None = None,
    destination_wallet: Wallet | None = None,
    external_address: str = "",
    counterparty: Counterparty | None = None,
    provenance_reference: str = "",
    at: datetime | None = None,
    version: PolicyVersion | None = None,
) -> Decision:
    """What the policies in force at `at` (now by default), or one given version such as a draft,
    would decide on a transfer with these fields, proposed by `actor`. Nothing is stored or locked."""
    address = _check_ends(
        direction=direction,
        source_wallet=source_wallet,
        destination_wallet=destination_wallet,
        external_address=external_address,
    )
    hypothetical = Transfer(
        direction=direction,
        category=category,
        amount_sats=amount_sats,
        fee_sats=fee_sats,
        source_wallet=source_wallet,
        destination_wallet=destination_wallet,
        external_address=address,
        counterparty=counterparty,
        provenance_reference=provenance_reference.strip(),
        proposer=actor,
    )
    change = transfer_change(hypothetical, at=at or timezone.now())
    return policy_evaluate(
        change=change, facts=ReservePolicyFacts(), versions=[version] if version is not None else None
    )


def compliance_rows(
    *, since: datetime, until: datetime, policy: Policy | None = None
) -> list[tuple[Policy, ComplianceRow]]:
    """Per continuous rule, per day (and at each holdings change): holdings, limit, margin, verdict."""
    if until <= since:
        raise ValidationFailed.for_field("to", "must be after from")
    if until - since > timedelta(days=MAX_COMPLIANCE_DAYS):
        raise ValidationFailed.for_field("to", f"the period may span at most {MAX_COMPLIANCE_DAYS} days")
    policies = (
        [policy]
        if policy is not None
        else list(Policy.objects.filter(versions__status__in=APPROVED).distinct().order_by("pk"))
    )
    facts = ReservePolicyFacts()
    return [
        (chosen, row)
        for chosen in policies
        for row in policy_compliance_report(version_or_policy=chosen, since=since, until=until, facts=facts)
    ]
