"""Issuing proof-of-reserves challenges and turning verified signatures over one into a statement."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.errors import Conflict, ValidationFailed
from ledger.selectors import balances_as_of
from reserve.access.roles import require_permission
from reserve.chain.rpc import RpcChainSource
from reserve.custody.addresses import parse_address
from reserve.custody.models import Wallet, WatchedScript
from reserve.custody.selectors import membership_at
from reserve.proofs.bip127 import verify_bip127
from reserve.proofs.bip322 import Refused
from reserve.proofs.models import ReserveProof, ReserveProofChallenge
from reserve.proofs.selectors import unspent_at, wallet_outputs_at
from reserve.proofs.signatures import verify_message_signature
from reserve.proofs.statements import statement_build, statement_evidence_gather, statement_sign
from reserve.reconciliation.models import BlockStatus, ChainBlock
from reserve.reports.chain_point import height_moment

DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 24 * 3600
MAX_ADDRESSES = 1000


def _challenge_message(
    *, challenge_id: str, nonce: str, network: str, block: ChainBlock, expires_at: str, addresses: Sequence[str]
) -> str:
    lines = [
        "Reserve Ledger proof of reserves",
        f"challenge: {challenge_id}",
        f"nonce: {nonce}",
        f"network: {network}",
        f"block: {block.height} {block.hash}",
        f"expires: {expires_at}",
        "addresses:",
        *addresses,
    ]
    return "\n".join(lines)


def _best_chain_tip(network: str) -> ChainBlock:
    """The highest block of the verified best chain: the block a new challenge is answered at."""
    block = ChainBlock.objects.filter(network=network, status=BlockStatus.ACTIVE).order_by("-height").first()
    if block is None:
        raise ValidationFailed.for_field("addresses", f"no verified {network} block yet to state a proof at")
    return block


def _challenge_block(challenge: ReserveProofChallenge, height: int | None) -> ChainBlock:
    """The challenge's block, still on the verified best chain; a proof at any other block is refused."""
    if challenge.block_height is None:
        raise ValidationFailed.for_field("challenge", "names no block (issued before they did); request a new one")
    if height is not None and height != challenge.block_height:
        raise ValidationFailed.for_field(
            "height",
            f"this challenge is answered at block {challenge.block_height} ({challenge.block_hash}) only, "
            f"not at {height}",
        )
    block = ChainBlock.objects.filter(
        network=challenge.network, hash=challenge.block_hash, status=BlockStatus.ACTIVE
    ).first()
    if block is None:
        raise ValidationFailed.for_field(
            "challenge",
            f"its block {challenge.block_height} ({challenge.block_hash}) is no longer on the best chain; "
            "request a new challenge",
        )
    return block


def _wallet_proof_addresses(
    challenge: ReserveProofChallenge, block: ChainBlock, item: dict[str, str], position: int, *, taken: set[str]
) -> list[str]:
    """The addresses a wallet's BIP-127 proof covers: it must spend every output the wallet holds at
    the block (each among the challenge's addresses, none signed otherwise) and nothing else."""
    field = f"wallet_proofs[{position}]"
    wallet = Wallet.objects.filter(name=str(item.get("wallet", "")), network=challenge.network).first()
    if wallet is None:
        raise ValidationFailed.for_field(
            f"{field}.wallet", f"no {challenge.network} wallet named {item.get('wallet')!r}"
        )
    outputs = wallet_outputs_at(wallet=wallet, height=block.height)
    if not outputs:
        raise ValidationFailed.for_field(f"{field}.wallet", f"{wallet.name} holds no output at block {block.height}")
    addresses = sorted({output.address.address for output in outputs.values()})
    for address in addresses:
        if address not in challenge.addresses:
            raise ValidationFailed.for_field(f"{field}.wallet", f"{address} is not one of this challenge's addresses")
        if address in taken:
            raise ValidationFailed.for_field(f"{field}.wallet", f"{address} is proven twice")
    try:
        spent = verify_bip127(psbt=str(item.get("psbt", "")), message=challenge.message, unspent=outputs)
    except Refused as refused:
        raise ValidationFailed.for_field(f"{field}.psbt", str(refused)) from None
    if len(spent) != len(outputs):
        raise ValidationFailed.for_field(
            f"{field}.psbt", f"spends {len(spent)} of the {len(outputs)} outputs {wallet.name} holds at the block"
        )
    return addresses


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
        if parsed.address in normalized:
            raise ValidationFailed.for_field(field, f"{parsed.address} is listed twice")
        normalized.append(parsed.address)
    block = _best_chain_tip(network)
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
                block=block,
                expires_at=expires_at.isoformat(),
                addresses=normalized,
            ),
            block_height=block.height,
            block_hash=block.hash,
            created_at=now,
            expires_at=expires_at,
            created_by=actor,
        )


def _chain_utxos(*, scripts: dict[str, WatchedScript], height: int) -> dict[str, list[dict[str, Any]]]:
    """address -> the outputs paying it on the active chain at `height` (created at or below, unspent then)."""
    by_script = {bytes(script.script_pubkey): address for address, script in scripts.items()}
    held = (
        unspent_at(height)
        .filter(script_pubkey__in=list(by_script))
        .values("script_pubkey", "txid", "vout", "value_sats", "block_height")
    )
    utxos: dict[str, list[dict[str, Any]]] = {address: [] for address in scripts}
    for row in held:
        utxos[by_script[bytes(row["script_pubkey"])]].append(
            {
                "txid": row["txid"],
                "vout": int(row["vout"]),
                "value_sats": int(row["value_sats"]),
                "block_height": int(row["block_height"]),
            }
        )
    return utxos


def reserve_proof_submit(
    *,
    challenge: ReserveProofChallenge,
    signatures: Sequence[dict[str, str]],
    actor: Any,
    height: int | None = None,
    wallet_proofs: Sequence[dict[str, str]] = (),
    source: Callable[[], RpcChainSource] | None = None,
) -> ReserveProof:
    """Verify every signature over the challenge (before it expires, once) and store the signed
    statement, at the block the challenge names (a `height` naming any other is refused): each
    signed address with its unspent outputs there, each wallet's booked balance there against
    the sats its signed addresses hold, the signed total, and whether every in-perimeter wallet
    holding bitcoin is covered by signatures. A wallet proof (BIP-127: a PSBT spending every output
    of the wallet at that block plus the commitment input) proves each of its addresses at once.
    The statement bundles its chain evidence from the node `source` opens (the API passes the one
    the reconciliation follows), or says why not."""
    require_permission(actor, "add_reserveproof", action="submit a proof of reserves")
    if not signatures and not wallet_proofs:
        raise ValidationFailed.for_field("signatures", "give at least one signature or wallet proof")
    with transaction.atomic():
        locked = ReserveProofChallenge.objects.select_for_update().get(pk=challenge.pk)
        if ReserveProof.objects.filter(challenge=locked).exists():
            raise Conflict.for_field("challenge", "has already been answered; request a new challenge")
        if timezone.now() >= locked.expires_at:
            raise ValidationFailed.for_field(
                "challenge", f"expired at {locked.expires_at.isoformat()}; request a new challenge"
            )
        block = _challenge_block(locked, height)
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
        for position, item in enumerate(wallet_proofs):
            for address in _wallet_proof_addresses(locked, block, item, position, taken=set(scripts)):
                scripts[address] = watched[address]
                verified.append({"address": address, "signature": str(item["psbt"]).strip(), "method": "bip127"})
        utxos = _chain_utxos(scripts=scripts, height=block.height)
        chain = {address: sum(utxo["value_sats"] for utxo in held) for address, held in utxos.items()}
        # The perimeter as then in force: at the block's time (else when the books last moved there).
        then = membership_at(at=block.block_time_at or height_moment(block.height))
        inside = {wallet_id for wallet_id, membership in then.items() if membership.in_perimeter}
        wallets = list(
            Wallet.objects.filter(Q(pk__in=inside) | Q(pk__in={s.wallet_id for s in scripts.values()}))
            .filter(network=locked.network)
            .select_related("ledger_account")
            .order_by("pk")
        )
        booked = balances_as_of(accounts=[wallet.ledger_account for wallet in wallets], block_height=block.height)
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
        address_rows = [
            {
                "address": address,
                "wallet_id": script.wallet_id,
                "wallet": script.wallet.name,
                "method": next(v["method"] for v in verified if v["address"] == address),
                "balance_sats": chain[address],
            }
            for address, script in scripts.items()
        ]
        proof = ReserveProof(
            challenge=locked,
            signatures=verified,
            network=locked.network,
            block_height=block.height,
            block_hash=block.hash,
            addresses=address_rows,
            wallets=wallet_rows,
            signed_total_sats=sum(chain.values()),
            perimeter_total_sats=perimeter_sats,
            covers_perimeter=all(row["covered"] for row in wallet_rows if row["in_perimeter"]),
            created_by=actor,
        )
        proof.evidence, note = statement_evidence_gather(
            network=proof.network,
            block_height=block.height,
            block_hash=block.hash,
            utxos=[utxo for held in utxos.values() for utxo in held],
            source=source,
        )
        proof.statement = statement_build(proof=proof, utxos=utxos, evidence_note=note)
        proof.statement_signature = statement_sign(proof.statement)
        proof.save()
        return proof
