"""A transfer's PSBT over REST: read it (every role; it holds no secret), build it, upload signed
PSBTs (base64), broadcast. The services in reserve/transfers/signing.py do the work."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from drf_spectacular.utils import extend_schema
from embit.psbt import PSBT
from rest_framework import serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import ValidationFailed
from reserve.api.base import READ_ERRORS, WRITE_ERRORS, ApiMixin, StrictInputSerializer
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.api.transfers import TransferDetailSerializer, transfer_detail_data
from reserve.chain.rpc import RpcChainSource
from reserve.transfers.models import BuiltPsbt, Transfer
from reserve.transfers.psbt_build import psbt_v2
from reserve.transfers.signing import (
    signing_progress,
    transfer_psbt,
    transfer_psbt_broadcast,
    transfer_psbt_build,
    transfer_psbt_sign,
)

MAX_PSBT_BASE64 = 4_000_000


class PsbtSerializer(serializers.Serializer):
    transfer = serializers.IntegerField(source="transfer_id")
    status = serializers.CharField()
    txid = serializers.CharField()
    fee_sats = serializers.IntegerField()
    fee_rate_sat_per_kvb = serializers.IntegerField()
    fee_rate_source = serializers.CharField()
    vsize = serializers.IntegerField()
    selection_rule = serializers.CharField()
    change_vout = serializers.IntegerField(allow_null=True)
    psbt = serializers.SerializerMethodField(help_text="BIP-174 v0, base64, with the signatures accepted so far")
    psbt_v2 = serializers.SerializerMethodField(help_text="The same as BIP-370 v2 (no modifiable flags)")
    unsigned_psbt = serializers.SerializerMethodField(help_text="As built, base64: what each cosigner signs")
    signatures = serializers.SerializerMethodField()

    def get_psbt(self, built: BuiltPsbt) -> str:
        return base64.b64encode(bytes(built.combined)).decode()

    def get_psbt_v2(self, built: BuiltPsbt) -> str:
        return base64.b64encode(psbt_v2(PSBT.parse(bytes(built.combined)))).decode()

    def get_unsigned_psbt(self, built: BuiltPsbt) -> str:
        return base64.b64encode(bytes(built.unsigned)).decode()

    def get_signatures(self, built: BuiltPsbt) -> dict[str, Any]:
        return signing_progress(built)


def _transfer(pk: int) -> Transfer:
    return get_object_or_404(Transfer.objects.all(), pk=pk)


class TransferPsbtApi(ApiMixin, APIView):
    write_permission = "reserve.execute_transfer"  # what its service checks

    class TransferPsbtBuildInputSerializer(StrictInputSerializer):
        fee_rate_sat_per_vb = serializers.IntegerField(
            required=False, allow_null=True, default=None, help_text="Else the node's estimatesmartfee"
        )

    @extend_schema(tags=["transfers"], responses={200: PsbtSerializer, **READ_ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        """The transfer's PSBT: as built, with the signatures so far, who signed and how many are needed."""
        return Response(PsbtSerializer(transfer_psbt(transfer_id=_transfer(pk).pk)).data)

    @extend_schema(
        tags=["transfers"],
        request=TransferPsbtBuildInputSerializer,
        parameters=[idempotency_parameter(required=True)],
        responses={201: PsbtSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Build the PSBT of an approved outbound or internal transfer and reserve its coins."""

        def perform() -> Response:
            data = self.TransferPsbtBuildInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            with RpcChainSource.from_settings() as source:
                built = transfer_psbt_build(
                    transfer=_transfer(pk), actor=request.user, source=source, **data.validated_data
                )
            return Response(PsbtSerializer(built).data, status=status.HTTP_201_CREATED)

        return idempotent(request, perform, required=True)


class TransferPsbtSignaturesApi(ApiMixin, APIView):
    write_permission = "reserve.execute_transfer"  # what its service checks

    class TransferPsbtSignInputSerializer(StrictInputSerializer):
        psbt = serializers.CharField(max_length=MAX_PSBT_BASE64, help_text="A (partially) signed PSBT, base64")

    @extend_schema(
        tags=["transfers"],
        request=TransferPsbtSignInputSerializer,
        parameters=[idempotency_parameter(required=True)],
        responses={200: PsbtSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Upload a cosigner's signed PSBT: verified against the built one, then combined (409 with the
        reason, recorded and audited, when anything differs)."""

        def perform() -> Response:
            data = self.TransferPsbtSignInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            try:
                raw = base64.b64decode(data.validated_data["psbt"], validate=True)
            except (binascii.Error, ValueError):
                raise ValidationFailed.for_field("psbt", "is not base64") from None
            built = transfer_psbt_sign(transfer=_transfer(pk), actor=request.user, raw=raw)
            return Response(PsbtSerializer(built).data)

        return idempotent(request, perform, required=True)


class TransferBroadcastApi(ApiMixin, APIView):
    """Not wrapped in the idempotency transaction: the txid must be committed before the node is
    asked. A repeated call finds the transfer broadcast and answers its detail."""

    write_permission = "reserve.execute_transfer"  # what its service checks

    @extend_schema(tags=["transfers"], request=None, responses={200: TransferDetailSerializer, **WRITE_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        """Finalize the fully signed PSBT and broadcast it through the node."""
        transfer = _transfer(pk)
        if transfer.status != "broadcast":
            with RpcChainSource.from_settings() as source:
                transfer_psbt_broadcast(transfer=transfer, actor=request.user, source=source)
        return Response(transfer_detail_data(transfer.pk))
