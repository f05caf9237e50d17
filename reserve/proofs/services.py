"""Issuing proof-of-reserves challenges and turning verified signatures over one into a statement."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.errors import Conflict, ValidationFailed
from ledger.selectors import balances_as_of
from reserve.access.roles import require_permission
from reserve.custody.addresses import parse_address
from reserve.custody.models import Wallet, WatchedScript
from reserve.custody.selectors import membership_at
from reserve.proofs.models import ReserveProof, ReserveProofChallenge
from reserve.proofs.signatures import SUPPORTED_KINDS, verify_message_signature
from reserve.reconciliation.models import UtxoStatus, WalletUtxo
from reserve.reports.chain_point import chain_point_at_height, chain_tip_height, height_moment

DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 24 * 3600
MAX_ADDRESSES = 1000


def _challenge_message(
    *, challenge_id: str, nonce: str, network: str, expires_at: str, addresses: Sequence[str]
) -> str:
    lines = [
        "Reserve Ledger proof of reserves",
        f"challenge: {challenge_id}",
        f"nonce: {nonce}",
        f"network: {network}",
        f"expires: {expires_at}",
        "addresses:",
        *addresses,
    ]
    return "\n".join(lines)


def reserve_proof_challenge_issue(
    *, addresses: Sequence[str], actor: Any, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> ReserveProofChallenge:
    """A fresh challenge (random nonce, expiry) for addresses our wallets watch; the custodians
    sign its `message` with the key of each address."""
    require_permission(actor, "add_reserveproofchallenge", action="issue a proof-of-reserves challenge")
    if not addresses:
        raise ValidationFailed.for_field("addresses", "give at least one address")
    if len(addresses) > MAX_ADDRESSES:
        raise ValidationFailed.for_field("addresses", f"at most {MAX_ADDRESSES} addresses per challenge")
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or not 60 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise ValidationFailed.for_field("ttl_seconds", f"must be between 60 and {MAX_TTL_SECONDS} seconds")
    watched = {
        script.address: script
        for script in WatchedScript.objects.filter(
            address__in=[variant for a in addresses for variant in (a.strip(), a.strip().lower())]
        ).select_related("wallet")
    }
    normalized: list[str] = []
    network = ""
    for position, text in enumerate(addresses):
        field = f"addresses[{position}]"
        script = watched.get(text.strip()) or watched.get(text.strip().lower())
        if script is None:
            raise ValidationFailed.for_field(field, f"{text} is not an address of any custody wallet")
        network = network or script.wallet.network
        if script.wallet.network != network:
            raise ValidationFailed.for_field(field, f"is on {script.wallet.network}; the other addresses on {network}")
        parsed = parse_address(address=script.address, network=network, field=field)
        if parsed.kind not in SUPPORTED_KINDS:
            raise ValidationFailed.for_field(
                field,
                f"{parsed.kind.upper()} addresses cannot prove control here: only P2PKH (legacy signmessage) and "
                "P2WPKH (BIP-322 simple) signatures are verified",
            )
        if parsed.address in normalized:
            raise ValidationFailed.for_field(field, f"{parsed.address} is listed twice")
        normalized.append(parsed.address)
    challenge_id = uuid.uuid4()
    nonce = secrets.token_hex(32)
    now = timezone.now()
    expires_at = now + timedelta(seconds=ttl_seconds)
    with transaction.atomic():
        return ReserveProofChallenge.objects.create(
            id=challenge_id,
            nonce=nonce,
            network=network,
            addresses=normalized,
            message=_challenge_message(
                challenge_id=str(challenge_id),
                nonce=nonce,
                network=network,
                expires_at=expires_at.isoformat(),
                addresses=normalized,
            ),
            created_at=now,
            expires_at=expires_at,
            created_by=actor,
        )


def _chain_balances(*, scripts: dict[str, WatchedScript], height: int) -> dict[str, int]:
    """address -> sats its outputs held on the active chain at `height` (created at or below, unspent then)."""
    by_script = {bytes(script.script_pubkey): address for address, script in scripts.items()}
    held = (
        WalletUtxo.objects.filter(script_pubkey__in=list(by_script), block_height__lte=height)
        .exclude(status=UtxoStatus.REORGED)
        .filter(Q(spent_height__isnull=True) | Q(spent_height__gt=height))
        .values("script_pubkey")
        .annotate(total=Coalesce(Sum("value_sats"), 0))
    )
    balances = dict.fromkeys(scripts, 0)
    for row in held:
        balances[by_script[bytes(row["script_pubkey"])]] += int(row["total"])
    return balances


def reserve_proof_submit(
    *,
    challenge: ReserveProofChallenge,
    signatures: Sequence[dict[str, str]],
    actor: Any,
    height: int | None = None,
) -> ReserveProof:
    """Verify every signature over the challenge (before it expires, once) and store the statement:
    each signed address with its on-chain balance at `height` (default: the highest known block),
    each wallet's booked balance there against the sats its signed addresses hold, the signed
    total, and whether every in-perimeter wallet holding bitcoin is covered by signatures."""
    require_permission(actor, "add_reserveproof", action="submit a proof of reserves")
    if not signatures:
        raise ValidationFailed.for_field("signatures", "give at least one signature")
    if height is None:
        height = chain_tip_height()
        if height is None:
            raise ValidationFailed.for_field("height", "no block is known yet; name the block height")
    point = chain_point_at_height(height)
    with transaction.atomic():
        locked = ReserveProofChallenge.objects.select_for_update().get(pk=challenge.pk)
        if ReserveProof.objects.filter(challenge=locked).exists():
            raise Conflict.for_field("challenge", "has already been answered; request a new challenge")
        if timezone.now() >= locked.expires_at:
            raise ValidationFailed.for_field(
                "challenge", f"expired at {locked.expires_at.isoformat()}; request a new challenge"
            )
        scripts: dict[str, WatchedScript] = {}
        verified: list[dict[str, str]] = []
        watched = {
            script.address: script
            for script in WatchedScript.objects.filter(address__in=locked.addresses).select_related("wallet")
        }
        for position, item in enumerate(signatures):
            address = str(item.get("address", "")).strip()
            signature = str(item.get("signature", ""))
            if address not in locked.addresses and address.lower() not in locked.addresses:
                raise ValidationFailed.for_field(
                    f"signatures[{position}].address", f"{address} is not one of this challenge's addresses"
                )
            parsed = parse_address(address=address, network=locked.network, field=f"signatures[{position}].address")
            if parsed.address in scripts:
                raise ValidationFailed.for_field(f"signatures[{position}].address", "is signed twice")
            check = verify_message_signature(address=parsed, message=locked.message, signature=signature)
            if not check.valid:
                raise ValidationFailed.for_field(f"signatures[{position}].signature", check.reason)
            scripts[parsed.address] = watched[parsed.address]
            verified.append({"address": parsed.address, "signature": signature.strip(), "method": check.method})
        chain = _chain_balances(scripts=scripts, height=height)
        # The perimeter as then in force: at the block's time (else when the books last moved there).
        then = membership_at(at=point.as_of or height_moment(height))
        inside = {wallet_id for wallet_id, membership in then.items() if membership.in_perimeter}
        wallets = list(
            Wallet.objects.filter(Q(pk__in=inside) | Q(pk__in={s.wallet_id for s in scripts.values()}))
            .filter(network=locked.network)
            .select_related("ledger_account")
            .order_by("pk")
        )
        booked = balances_as_of(accounts=[wallet.ledger_account for wallet in wallets], block_height=height)
        wallet_rows = []
        for wallet in wallets:
            balance = int(booked.get(wallet.ledger_account_id, 0))
            signed = sum(chain[address] for address, script in scripts.items() if script.wallet_id == wallet.pk)
            wallet_rows.append(
                {
                    "wallet_id": wallet.pk,
                    "wallet": wallet.name,
                    "in_perimeter": wallet.pk in inside,
                    "balance_sats": balance,
                    "signed_sats": signed,
                    "covered": signed >= balance,
                }
            )
        perimeter_sats = sum(int(booked.get(wallet.ledger_account_id, 0)) for wallet in wallets if wallet.pk in inside)
        covered = all(row["covered"] for row in wallet_rows if row["in_perimeter"])
        return ReserveProof.objects.create(
            challenge=locked,
            signatures=verified,
            network=locked.network,
            block_height=height,
            block_hash=point.block_hash or "",
            addresses=[
                {
                    "address": address,
                    "wallet_id": script.wallet_id,
                    "wallet": script.wallet.name,
                    "method": next(v["method"] for v in verified if v["address"] == address),
                    "balance_sats": chain[address],
                }
                for address, script in scripts.items()
            ],
            wallets=wallet_rows,
            signed_total_sats=sum(chain.values()),
            perimeter_total_sats=perimeter_sats,
            covers_perimeter=covered,
            created_by=actor,
        )
