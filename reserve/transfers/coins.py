"""Which of a wallet's coins a transfer may spend, and the holds on them: reservations (one live
per coin, enforced by PostgreSQL's `reserve_utxo_one_live_reservation`) and operators' freezes.

Coin selection is largest-first over the selectable coins: unspent on the best chain, at least
the confirmation depth deep, not reserved by another transfer, not frozen (immature coinbase
outputs are skipped by the builder, which is where a coin's transaction is read).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from config.errors import Conflict, NotFound, ValidationFailed
from reserve.access.roles import require_permission
from reserve.audit.services import audit_record, snapshot
from reserve.common.settings import confirmation_depth
from reserve.custody.models import Wallet
from reserve.reconciliation.models import BlockStatus, UtxoStatus, WalletUtxo
from reserve.transfers.models import BuiltPsbt, PsbtStatus, Transfer, UtxoFreeze, UtxoReservation

SELECTION_RULE = "largest-first"


def live_freezes() -> QuerySet[UtxoFreeze]:
    """The freezes in force: closed once by an unfreeze, never rewritten."""
    return UtxoFreeze.objects.filter(unfrozen_at__isnull=True)


def selectable_coins(*, wallet: Wallet, tip_height: int) -> QuerySet[WalletUtxo]:
    """The wallet's coins a new PSBT may spend, largest first (ties in outpoint order)."""
    deepest_allowed = tip_height - confirmation_depth() + 1
    live_reservation = UtxoReservation.objects.filter(utxo=OuterRef("pk"), released_at__isnull=True)
    live_freeze = live_freezes().filter(utxo=OuterRef("pk"))
    return (
        WalletUtxo.objects.filter(
            wallet=wallet,
            status=UtxoStatus.UNSPENT,
            block__status=BlockStatus.ACTIVE,
            block_height__lte=deepest_allowed,
        )
        .exclude(Exists(live_reservation))
        .exclude(Exists(live_freeze))
        .select_related("block")
        .order_by("-value_sats", "txid", "vout")
    )


def reservations_release(*, transfer: Transfer, reason: str) -> int:
    """Give back the coins held for `transfer` and retire its live PSBT (failed, cancelled, final)."""
    released = UtxoReservation.objects.filter(transfer=transfer, released_at__isnull=True).update(
        released_at=timezone.now(), release_reason=reason
    )
    BuiltPsbt.objects.filter(transfer=transfer).exclude(status=PsbtStatus.SUPERSEDED).exclude(
        status=PsbtStatus.BROADCAST
    ).update(status=PsbtStatus.SUPERSEDED, updated_at=timezone.now())
    return released


def _utxo(utxo_id: int) -> WalletUtxo:
    try:
        return WalletUtxo.objects.select_for_update(of=("self",)).get(pk=utxo_id)
    except WalletUtxo.DoesNotExist:
        raise NotFound(f"coin {utxo_id} does not exist") from None


def utxo_freeze(*, utxo_id: int, actor: Any, reason: str) -> UtxoFreeze:
    """Keep a coin out of every coin selection until an operator unfreezes it (audited)."""
    require_permission(actor, "freeze_utxo", action="freeze a coin")
    if not reason.strip():
        raise ValidationFailed.for_field("reason", "say why the coin is frozen")
    with transaction.atomic():
        utxo = _utxo(utxo_id)
        if live_freezes().filter(utxo=utxo).exists():
            raise Conflict(f"coin {utxo.txid}:{utxo.vout} is already frozen", fields={"utxo": ["already frozen"]})
        freeze = UtxoFreeze.objects.create(utxo=utxo, reason=reason, frozen_by=actor)
        audit_record(actor=actor, action="utxo.freeze", instance=freeze, before=None, after=snapshot(freeze))
    return freeze


def utxo_unfreeze(*, utxo_id: int, actor: Any, reason: str) -> UtxoFreeze:
    require_permission(actor, "freeze_utxo", action="unfreeze a coin")
    if not reason.strip():
        raise ValidationFailed.for_field("reason", "say why the coin is released")
    with transaction.atomic():
        utxo = _utxo(utxo_id)
        freeze = live_freezes().select_for_update().filter(utxo=utxo).first()
        if freeze is None:
            raise Conflict(f"coin {utxo.txid}:{utxo.vout} is not frozen", fields={"utxo": ["not frozen"]})
        before = snapshot(freeze)
        freeze.unfrozen_at = timezone.now()
        freeze.unfrozen_by = actor
        freeze.unfreeze_reason = reason
        freeze.save()
        audit_record(actor=actor, action="utxo.unfreeze", instance=freeze, before=before, after=snapshot(freeze))
    return freeze
