"""The signing panel of an approved transfer's admin page: build the PSBT, download it (file and
base64), upload signed PSBTs (file or base64), see who signed and how many are needed, broadcast.
Each view calls one service of reserve/transfers/signing.py."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path

from config.errors import ApplicationError, ValidationFailed
from ledger.numerals import is_unsigned_integer
from reserve.admin.common import refuse
from reserve.chain.rpc import RpcChainSource
from reserve.transfers.models import PsbtStatus, Transfer, TransferDirection, TransferStatus
from reserve.transfers.signing import (
    live_psbt,
    signing_progress,
    transfer_psbt_broadcast,
    transfer_psbt_build,
    transfer_psbt_sign,
)

PERMISSION = "reserve.execute_transfer"
MAX_UPLOAD_BYTES = 4_000_000


def signing_context(transfer: Transfer, user: Any) -> dict[str, Any]:
    built = live_psbt(transfer)
    may = user.has_perm(PERMISSION)
    signable = transfer.status == TransferStatus.APPROVED and transfer.direction != TransferDirection.INBOUND
    return {
        "psbt": built,
        "psbt_base64": base64.b64encode(bytes(built.combined)).decode() if built else "",
        "psbt_progress": signing_progress(built) if built else None,
        "can_build_psbt": may and signable and built is None,
        "can_upload_psbt": may and built is not None and built.status in (PsbtStatus.BUILT, PsbtStatus.SIGNED),
        "can_broadcast_psbt": may and signable and built is not None and built.status == PsbtStatus.SIGNED,
    }


def _uploaded(request: HttpRequest) -> bytes:
    upload = request.FILES.get("psbt_file")
    if upload is not None:
        if upload.size is None or upload.size > MAX_UPLOAD_BYTES:
            raise ValidationFailed.for_field("psbt_file", f"is larger than {MAX_UPLOAD_BYTES} bytes")
        raw = upload.read()
        # A .psbt file is binary; some wallets save the base64 text instead.
        return raw if raw.startswith(b"psbt\xff") else _decoded(raw.decode("ascii", "replace"), field="psbt_file")
    return _decoded(request.POST.get("psbt_base64", ""), field="psbt_base64")


def _decoded(text: str, *, field: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed.for_field(field, "is not base64") from None


def signing_view(request: HttpRequest, object_id: str, step: str) -> HttpResponse:
    transfer = get_object_or_404(Transfer, pk=unquote(object_id))
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    if step == "download":
        built = live_psbt(transfer)
        if built is None:
            messages.error(request, "This transfer has no PSBT yet.")
            return redirect("admin:reserve_transfer_change", transfer.pk)
        response = HttpResponse(bytes(built.combined), content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="transfer-{transfer.pk}.psbt"'
        return response
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        if step == "build":
            rate = request.POST.get("fee_rate_sat_per_vb", "").strip()
            if rate and not is_unsigned_integer(rate):
                raise ValidationFailed.for_field("fee_rate_sat_per_vb", "must be a whole number of sat/vB")
            with RpcChainSource.from_settings() as source:
                built = transfer_psbt_build(
                    transfer=transfer,
                    actor=request.user,
                    source=source,
                    fee_rate_sat_per_vb=int(rate) if rate else None,
                )
            messages.success(request, f"PSBT built: {built.fee_sats} sats fee, {built.vsize} vB, coins reserved.")
        elif step == "upload":
            built = transfer_psbt_sign(transfer=transfer, actor=request.user, raw=_uploaded(request))
            progress = signing_progress(built)
            messages.success(
                request,
                f"Signatures accepted: signed by {', '.join(progress['signed_by']) or 'nobody yet'}; "
                f"{progress['needed']} needed.",
            )
        else:
            with RpcChainSource.from_settings() as source:
                transfer = transfer_psbt_broadcast(transfer=transfer, actor=request.user, source=source)
            messages.success(request, f"Broadcast: {transfer.txid}.")
    except ApplicationError as error:
        refuse(error)
        messages.error(request, error.message)
    return redirect("admin:reserve_transfer_change", transfer.pk)


def signing_urls(wrap: Any) -> list[URLPattern]:
    return [
        path(
            f"<path:object_id>/psbt/{step}/",
            wrap(signing_view),
            {"step": step},
            name=f"reserve_transfer_psbt_{step}",
        )
        for step in ("build", "download", "upload", "broadcast")
    ]
