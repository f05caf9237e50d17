"""Proofs of reserves: operators request a challenge and submit signatures over it; every role
lists the statements and re-verifies any of them."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reserve.api.base import (
    READ_ERRORS,
    WRITE_ERRORS,
    ApiMixin,
    BtcField,
    CsvMixin,
    Pagination,
    StrictInputSerializer,
    list_responses,
)
from reserve.api.filters import BACKENDS, date_range
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.custody.models import Wallet
from reserve.proofs.models import ReserveProof, ReserveProofChallenge
from reserve.proofs.selectors import reserve_proof_reverify, wallet_proof_psbt
from reserve.proofs.services import (
    DEFAULT_TTL_SECONDS,
    MAX_ADDRESSES,
    MAX_TTL_SECONDS,
    reserve_proof_challenge_issue,
    reserve_proof_submit,
)
from reserve.tasks import chain_source


class ChallengeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReserveProofChallenge
        fields = [
            "id",
            "nonce",
            "network",
            "addresses",
            "message",
            "block_height",
            "block_hash",
            "expires_at",
            "created_at",
        ]


class ChallengeIssueApi(ApiMixin, APIView):
    write_permission = "reserve.add_reserveproofchallenge"  # what its service checks

    class ChallengeIssueInputSerializer(StrictInputSerializer):
        addresses = serializers.ListField(
            child=serializers.CharField(max_length=100), min_length=1, max_length=MAX_ADDRESSES
        )
        ttl_seconds = serializers.IntegerField(min_value=60, max_value=MAX_TTL_SECONDS, default=DEFAULT_TTL_SECONDS)

    @extend_schema(
        tags=["proofs"],
        request=ChallengeIssueInputSerializer,
        parameters=[idempotency_parameter(required=False)],
        responses={201: ChallengeSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """A fresh challenge for addresses of our wallets, answered at the block it names (the tip of the
        verified best chain, whose hash its `message` quotes): sign the message with the key(s) of each
        address before it expires: legacy signmessage for P2PKH; BIP-322 for P2WPKH (Simple or Full),
        P2SH-P2WPKH (Full), P2WSH multisig (the quorum of cosigners) and P2TR key path."""

        def perform() -> Response:
            data = self.ChallengeIssueInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            challenge = reserve_proof_challenge_issue(actor=request.user, **data.validated_data)
            return Response(ChallengeSerializer(challenge).data, status=status.HTTP_201_CREATED)

        return idempotent(request, perform, required=False)


class ProofAddressSerializer(serializers.Serializer):
    address = serializers.CharField()
    wallet_id = serializers.IntegerField()
    wallet = serializers.CharField()
    method = serializers.CharField()
    balance_sats = serializers.IntegerField(help_text="On chain at the named block")
    balance_btc = BtcField(source="balance_sats")


class ProofWalletSerializer(serializers.Serializer):
    wallet_id = serializers.IntegerField()
    wallet = serializers.CharField()
    in_perimeter = serializers.BooleanField()
    balance_sats = serializers.IntegerField(help_text="Booked at the named block")
    signed_sats = serializers.IntegerField(help_text="Held on chain by the wallet's signed addresses")
    covered = serializers.BooleanField()


class SignatureCheckSerializer(serializers.Serializer):
    address = serializers.CharField()
    method = serializers.CharField()
    valid = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)


class ProofSerializer(serializers.ModelSerializer):
    challenge = ChallengeSerializer()
    addresses = ProofAddressSerializer(many=True)
    wallets = ProofWalletSerializer(many=True)
    signed_total_btc = BtcField(source="signed_total_sats")
    perimeter_total_btc = BtcField(source="perimeter_total_sats")
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = ReserveProof
        fields = [
            "id",
            "challenge",
            "network",
            "block_height",
            "block_hash",
            "addresses",
            "wallets",
            "signed_total_sats",
            "signed_total_btc",
            "perimeter_total_sats",
            "perimeter_total_btc",
            "covers_perimeter",
            "signatures",
            "statement",
            "statement_signature",
            "created_by",
            "created_at",
        ]


class ProofDetailSerializer(ProofSerializer):
    reverified = serializers.BooleanField(help_text="Every stored signature verified again just now")
    signature_checks = SignatureCheckSerializer(many=True)

    class Meta(ProofSerializer.Meta):
        fields = [*ProofSerializer.Meta.fields, "reverified", "signature_checks"]


def proof_detail_data(proof: ReserveProof) -> Any:
    recheck = reserve_proof_reverify(proof=proof)
    proof.reverified = recheck.valid  # type: ignore[attr-defined]
    proof.signature_checks = recheck.signatures  # type: ignore[attr-defined]
    return ProofDetailSerializer(proof).data


class SignatureInput(StrictInputSerializer):
    address = serializers.CharField(max_length=100)
    signature = serializers.CharField(max_length=2000, help_text="base64")


class WalletProofInput(StrictInputSerializer):
    wallet = serializers.CharField(max_length=100, help_text="The wallet's name")
    psbt = serializers.CharField(max_length=1_000_000, help_text="The BIP-127 proof PSBT its cosigners signed, base64")


class WalletProofPsbtSerializer(serializers.Serializer):
    wallet = serializers.CharField()
    psbt = serializers.CharField(help_text="Unsigned, base64")


class WalletProofPsbtApi(ApiMixin, APIView):
    class WalletProofPsbtInputSerializer(StrictInputSerializer):
        wallet = serializers.SlugRelatedField(slug_field="name", queryset=Wallet.objects.all())

    @extend_schema(
        tags=["proofs"],
        parameters=[WalletProofPsbtInputSerializer],
        responses={200: WalletProofPsbtSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, pk: str) -> Response:
        """The unsigned BIP-127 PSBT for `wallet`'s cosigners to answer this challenge: the commitment
        input (the message, also in PSBT_IN_POR_COMMITMENT), then every output the wallet holds at the
        challenge's block, paying their sum. Sign it like a transfer and submit it as a wallet proof."""
        challenge = get_object_or_404(ReserveProofChallenge, pk=pk)
        data = self.WalletProofPsbtInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        wallet = data.validated_data["wallet"]
        return Response({"wallet": wallet.name, "psbt": wallet_proof_psbt(challenge=challenge, wallet=wallet)})


@date_range("created_at")
class ReserveProofFilter(django_filters.FilterSet):
    covers_perimeter = django_filters.BooleanFilter()
    network = django_filters.CharFilter()
    min_height = django_filters.NumberFilter(field_name="block_height", lookup_expr="gte")
    max_height = django_filters.NumberFilter(field_name="block_height", lookup_expr="lte")

    class Meta:
        model = ReserveProof
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(tags=["proofs"], responses=list_responses(ProofSerializer)),
    retrieve=extend_schema(tags=["proofs"], responses={200: ProofDetailSerializer, **READ_ERRORS}),
)
class ReserveProofViewSet(CsvMixin, viewsets.GenericViewSet):
    """Statements of proven reserves. The detail re-verifies every signature over its challenge.
    Operators submit signatures over a challenge (POST)."""

    serializer_class = ProofSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = ReserveProofFilter
    write_permission = "reserve.add_reserveproof"  # what its service checks

    def get_queryset(self) -> QuerySet[ReserveProof]:
        return ReserveProof.objects.select_related("challenge", "created_by").order_by("-created_at", "-id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ProofSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(proof_detail_data(self.get_object()))

    class ReserveProofInputSerializer(StrictInputSerializer):
        challenge = serializers.PrimaryKeyRelatedField(queryset=ReserveProofChallenge.objects.all())
        signatures = SignatureInput(many=True, required=False, default=list, max_length=MAX_ADDRESSES)  # type: ignore[call-arg]
        wallet_proofs = WalletProofInput(many=True, required=False, default=list, max_length=MAX_ADDRESSES)  # type: ignore[call-arg]
        height = serializers.IntegerField(
            min_value=0,
            max_value=2**31 - 1,
            required=False,
            allow_null=True,
            default=None,
            help_text="The block the balances are stated at: the challenge's block, the only one accepted",
        )

    @extend_schema(
        tags=["proofs"],
        request=ReserveProofInputSerializer,
        parameters=[idempotency_parameter(required=False)],
        responses={201: ProofDetailSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        def perform() -> Response:
            data = self.ReserveProofInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            fields = data.validated_data
            proof = reserve_proof_submit(
                challenge=fields["challenge"],
                signatures=[dict(item) for item in fields["signatures"]],
                wallet_proofs=[dict(item) for item in fields["wallet_proofs"]],
                height=fields["height"],
                actor=request.user,
                source=chain_source,  # the node the reconciliation follows, for the statement's evidence
            )
            return Response(proof_detail_data(proof), status=status.HTTP_201_CREATED)

        return idempotent(request, perform, required=False)
