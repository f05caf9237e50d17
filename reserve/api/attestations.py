"""Period attestations of the headline rule: operators make one for a range of blocks; every role
lists and reads them. Each carries the signed document scripts/verify_statement.py checks with --rpc."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from reserve.api.base import (
    READ_ERRORS,
    WRITE_ERRORS,
    CsvMixin,
    Pagination,
    StrictInputSerializer,
    list_responses,
)
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.proofs.attestations import period_attestation_create
from reserve.proofs.models import PeriodAttestation


class PeriodAttestationSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username")
    document = serializers.SerializerMethodField(help_text="The file to verify: {statement, signature}")

    class Meta:
        model = PeriodAttestation
        fields = [
            "id",
            "network",
            "from_height",
            "to_height",
            "verdict",
            "net_accumulation_sats",
            "document",
            "created_by",
            "created_at",
        ]

    def get_document(self, attestation: PeriodAttestation) -> dict[str, Any]:
        return {"statement": attestation.statement, "signature": attestation.statement_signature}


@extend_schema_view(
    list=extend_schema(tags=["proofs"], responses=list_responses(PeriodAttestationSerializer)),
    retrieve=extend_schema(tags=["proofs"], responses={200: PeriodAttestationSerializer, **READ_ERRORS}),
)
class PeriodAttestationViewSet(CsvMixin, viewsets.GenericViewSet):
    """Signed period attestations, kept as made. Operators make one (POST) for blocks
    [from_height, to_height] of the verified best chain."""

    serializer_class = PeriodAttestationSerializer
    pagination_class = Pagination
    write_permission = "reserve.add_periodattestation"  # what its service checks

    def get_queryset(self) -> QuerySet[PeriodAttestation]:
        return PeriodAttestation.objects.select_related("created_by").order_by("-created_at", "-id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PeriodAttestationSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(PeriodAttestationSerializer(self.get_object()).data)

    class PeriodAttestationInputSerializer(StrictInputSerializer):
        from_height = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
        to_height = serializers.IntegerField(min_value=0, max_value=2**31 - 1)

    @extend_schema(
        tags=["proofs"],
        request=PeriodAttestationInputSerializer,
        parameters=[idempotency_parameter(required=False)],
        responses={201: PeriodAttestationSerializer, **WRITE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        """The perimeter's holdings at every block of the period where they changed, each change classed
        by its transfer, and the no-net-accumulation verdict, signed; verify it with
        `scripts/verify_statement.py FILE --key KEY --rpc NODE` (it rescans the period itself)."""

        def perform() -> Response:
            data = self.PeriodAttestationInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            attestation = period_attestation_create(actor=request.user, **data.validated_data)
            return Response(PeriodAttestationSerializer(attestation).data, status=status.HTTP_201_CREATED)

        return idempotent(request, perform, required=False)
