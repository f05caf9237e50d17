"""GET /labels/: the BIP-329 label export (JSON Lines) of the custody wallets' keys, addresses and transactions;
POST /labels/: an operator's import of such a file for one wallet."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reserve.api.base import QUERY_STRING, READ_ERRORS, WRITE_ERRORS, ApiMixin, StrictInputSerializer
from reserve.api.filters import IdOrNameRelatedField
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.api.renderers import JSONLinesRenderer
from reserve.custody.models import Agency, Wallet
from reserve.reports.labels import labels_export
from reserve.reports.labels_import import IMPORT_PERMISSION, labels_import


class LabelRecordSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["xpub", "addr", "tx", "output"])
    ref = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    origin = serializers.CharField(required=False)
    spendable = serializers.BooleanField(required=False)


class LabelsImportInput(StrictInputSerializer):
    wallet = serializers.PrimaryKeyRelatedField(queryset=Wallet.objects.all(), help_text="Wallet id")
    jsonl = serializers.CharField(trim_whitespace=False, help_text="The BIP-329 file: one JSON record per line")


class LabelsImportedSerializer(serializers.Serializer):
    records = serializers.IntegerField()
    changed = serializers.IntegerField()


class LabelsApi(ApiMixin, APIView):
    renderer_classes = [JSONLinesRenderer, JSONRenderer, BrowsableAPIRenderer]
    write_permission = IMPORT_PERMISSION  # what its service checks

    def get_renderers(self) -> list[Any]:
        if self.request is not None and self.request.method == "POST":
            return [JSONRenderer()]  # the import answers with its counts, never JSON Lines
        return super().get_renderers()

    class LabelsFilterSerializer(StrictInputSerializer):
        wallet = IdOrNameRelatedField(queryset=Wallet.objects.all(), required=False)
        agency = IdOrNameRelatedField(queryset=Agency.objects.all(), required=False)
        format = serializers.ChoiceField(choices=["jsonl", "json", "api"], required=False)

    @extend_schema(
        tags=["reports"],
        parameters=[
            OpenApiParameter("wallet", OpenApiTypes.STR, description="Wallet id or name"),
            OpenApiParameter("agency", OpenApiTypes.STR, description="Agency id or name"),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["jsonl", "json"], description="json: one array"),
        ],
        responses={
            (200, "application/jsonl"): OpenApiResponse(
                OpenApiTypes.STR, description='One BIP-329 record per line: {"type", "ref", "label", ...}'
            ),
            (200, "application/json"): OpenApiResponse(
                LabelRecordSerializer(many=True), description="The same records as one array"
            ),
            **{(code, "application/json"): response for code, response in READ_ERRORS.items()},
        },
    )
    def get(self, request: Request) -> Response:
        """BIP-329 labels (types xpub, addr, tx, output) for every wallet, or one wallet or agency."""
        query = self.LabelsFilterSerializer(data=request.query_params.dict(), context=QUERY_STRING)
        query.is_valid(raise_exception=True)
        wallets = Wallet.objects.all()
        if query.validated_data.get("wallet") is not None:
            wallets = wallets.filter(pk=query.validated_data["wallet"].pk)
        if query.validated_data.get("agency") is not None:
            wallets = wallets.filter(agency=query.validated_data["agency"])
        response = Response(list(labels_export(wallets=wallets)))
        response["Content-Disposition"] = 'attachment; filename="reserve-labels.jsonl"'
        return response

    @extend_schema(
        tags=["reports"],
        request=LabelsImportInput,
        parameters=[idempotency_parameter(required=False)],
        responses={(200, "application/json"): LabelsImportedSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Import a BIP-329 file for one wallet: every line checked first (a bad one is a 400 naming
        its line and field, nothing imported); only the wallet's own records; unchanged labels are no change."""

        def perform() -> Response:
            data = LabelsImportInput(data=request.data)
            data.is_valid(raise_exception=True)
            result = labels_import(
                wallet=data.validated_data["wallet"], text=data.validated_data["jsonl"], actor=request.user
            )
            return Response({"records": result.records, "changed": result.changed})

        return idempotent(request, perform, required=False)
