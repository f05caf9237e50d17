"""GET /labels/: the BIP-329 label export (JSON Lines) of the custody wallets' keys, addresses and transactions."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reserve.api.base import QUERY_STRING, READ_ERRORS, ApiMixin, StrictInputSerializer
from reserve.api.filters import IdOrNameRelatedField
from reserve.api.renderers import JSONLinesRenderer
from reserve.custody.models import Agency, Wallet
from reserve.reports.labels import labels_export


class LabelRecordSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["xpub", "addr", "tx", "output"])
    ref = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    origin = serializers.CharField(required=False)
    spendable = serializers.BooleanField(required=False)


class LabelsApi(ApiMixin, APIView):
    renderer_classes = [JSONLinesRenderer, JSONRenderer, BrowsableAPIRenderer]

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
