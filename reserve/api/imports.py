"""Import batches over the API: every role reads them (hash, rows, approvals, outcome); approvers
other than the proposer approve or reject one by the file hash they checked. Files are proposed
from the command line or the admin; a JSON batch of journal postings is proposed here, as a
ledger import (reserve/imports/postings.py)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reserve.api.base import READ_ERRORS, WRITE_ERRORS, ApiMixin, Pagination, StrictInputSerializer, list_responses
from reserve.api.filters import BACKENDS
from reserve.api.idempotency import idempotency_parameter, idempotent
from reserve.imports.models import ImportApproval, ImportBatch, ImportKind
from reserve.imports.postings import MAX_POSTINGS, Leg, Posting, postings_propose
from reserve.imports.services import (
    APPROVE_PERMISSION,
    PROPOSE_PERMISSION,
    batch_rows,
    import_approve,
    import_reject,
)


class ImportBatchSerializer(serializers.ModelSerializer):
    proposer = serializers.CharField(source="proposer.username")

    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "kind",
            "status",
            "file_sha256",
            "content_hash",
            "filename",
            "proposer",
            "required_approvals",
            "required_role",
            "refused_line",
            "refused_rule",
            "refused_reason",
            "evaluation",
            "outcome",
            "created_at",
            "decided_at",
        ]


class ImportApprovalSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username")

    class Meta:
        model = ImportApproval
        fields = ["id", "approver", "decision", "file_sha256", "comment", "at"]


class ImportRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    cells = serializers.DictField(child=serializers.CharField(allow_blank=True))


class ImportBatchDetailSerializer(ImportBatchSerializer):
    rows = serializers.SerializerMethodField()
    approvals = ImportApprovalSerializer(many=True, read_only=True)

    class Meta(ImportBatchSerializer.Meta):
        fields = [*ImportBatchSerializer.Meta.fields, "rows", "approvals"]

    @extend_schema_field(ImportRowSerializer(many=True))
    def get_rows(self, batch: ImportBatch) -> Any:
        return [{"line": line, "cells": cells} for line, cells in batch_rows(batch)]


def batch_detail_data(pk: int) -> Any:
    batch = ImportBatch.objects.select_related("proposer").prefetch_related("approvals__approver").get(pk=pk)
    return ImportBatchDetailSerializer(batch).data


@extend_schema_view(
    list=extend_schema(tags=["imports"], responses=list_responses(ImportBatchSerializer)),
    retrieve=extend_schema(tags=["imports"], responses={200: ImportBatchDetailSerializer, **READ_ERRORS}),
)
class ImportBatchViewSet(ApiMixin, viewsets.GenericViewSet):
    """Import batches, newest first; the detail adds every row and every decision."""

    serializer_class = ImportBatchSerializer
    reads_replica = True  # a list for auditors (the proposal itself is a POST, on the primary)
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_fields = ["kind", "status"]

    def get_queryset(self) -> QuerySet[ImportBatch]:
        return ImportBatch.objects.select_related("proposer").order_by("-id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ImportBatchSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(batch_detail_data(self.get_object().pk))


class ImportDecisionInput(StrictInputSerializer):
    file_sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$", help_text="The SHA-256 of the file you checked (the batch's file_sha256)"
    )
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ImportApproveApi(ApiMixin, APIView):
    write_permission = f"reserve.{APPROVE_PERMISSION}"  # what its service checks

    @extend_schema(
        tags=["imports"],
        request=ImportDecisionInput,
        parameters=[idempotency_parameter(required=True)],
        responses={200: ImportBatchDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Approve the batch with this file hash; the approval that reaches the quorum posts every
        row (each through the policy's posting gate at its time) or refuses the batch."""

        def perform() -> Response:
            data = ImportDecisionInput(data=request.data)
            data.is_valid(raise_exception=True)
            batch = get_object_or_404(ImportBatch.objects.all(), pk=pk)
            batch = import_approve(batch=batch, actor=request.user, **data.validated_data)
            return Response(batch_detail_data(batch.pk))

        return idempotent(request, perform, required=True)


class ImportRejectApi(ApiMixin, APIView):
    write_permission = f"reserve.{APPROVE_PERMISSION}"  # what its service checks

    @extend_schema(
        tags=["imports"],
        request=ImportDecisionInput,
        parameters=[idempotency_parameter(required=True)],
        responses={200: ImportBatchDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Reject the batch with this file hash, saying why in `comment`; nothing is posted."""

        def perform() -> Response:
            data = ImportDecisionInput(data=request.data)
            data.is_valid(raise_exception=True)
            batch = get_object_or_404(ImportBatch.objects.all(), pk=pk)
            batch = import_reject(batch=batch, actor=request.user, **data.validated_data)
            return Response(batch_detail_data(batch.pk))

        return idempotent(request, perform, required=True)


class LegInput(StrictInputSerializer):
    account = serializers.CharField(max_length=255, help_text="The ledger account's code")
    amount_sats = serializers.IntegerField(help_text="Debit > 0, credit < 0, a JSON integer")


class PostingInput(StrictInputSerializer):
    idempotency_key = serializers.CharField(max_length=255, help_text="This transaction's own key in the books")
    occurred_at = serializers.DateTimeField(help_text="Economic time; strictly increasing through the batch")
    kind = serializers.CharField(max_length=64)
    entries = LegInput(many=True)
    memo = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    block_height = serializers.IntegerField(min_value=0, required=False, allow_null=True, default=None)
    block_hash = serializers.CharField(required=False, allow_null=True, default=None)
    txid = serializers.CharField(required=False, allow_null=True, default=None)


class PostingsBatchInput(StrictInputSerializer):
    postings = PostingInput(many=True, help_text=f"1 to {MAX_POSTINGS} transactions")


class PostingsBatchApi(ApiMixin, APIView):
    write_permission = f"reserve.{PROPOSE_PERMISSION[ImportKind.LEDGER]}"  # what its service checks

    @extend_schema(
        tags=["imports"],
        request=PostingsBatchInput,
        parameters=[idempotency_parameter(required=True)],
        responses={201: ImportBatchDetailSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request) -> Response:
        """Propose N balanced journal transactions, each with its own idempotency key, as one
        ledger import batch: nothing posts now; the approval that reaches the quorum
        (`/imports/{id}/approve/`, never the proposer's) posts all of them or none. A refused
        transaction is named `postings[i].<field>`."""

        def perform() -> Response:
            data = PostingsBatchInput(data=request.data)
            data.is_valid(raise_exception=True)
            postings = [
                Posting(**{**posting, "entries": [Leg(**leg) for leg in posting["entries"]]})
                for posting in data.validated_data["postings"]
            ]
            batch = postings_propose(postings=postings, actor=request.user)
            return Response(batch_detail_data(batch.pk), status=status.HTTP_201_CREATED)

        return idempotent(request, perform, required=True)
