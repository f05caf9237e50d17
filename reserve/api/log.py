"""The transparency log of the books (ledger/log/): signed tree heads, inclusion and consistency proofs,
and the public key that signs the heads. Read-only; anonymous when LEDGER_LOG_PUBLIC is set."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import NotFound
from ledger.log.heads import HEAD_PREFIX
from ledger.log.selectors import consistency_proof, head_at, inclusion_proof, latest_signed_head, log_public_key
from reserve.api.base import QUERY_STRING, READ_ERRORS, ApiMixin, StrictInputSerializer
from reserve.api.permissions import RolePermission

# A size beyond a bigint is no head's, and must be a 400 rather than the database's overflow.
MAX_SIZE = 2**63 - 1


class LogReadPermission(RolePermission):
    """Every role reads the log; anyone does when the operator publishes it (LEDGER_LOG_PUBLIC)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if settings.LEDGER_LOG_PUBLIC and request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().has_permission(request, view)


class LogApi(ApiMixin, APIView):
    permission_classes = [LogReadPermission]


class TreeHeadSerializer(serializers.Serializer):
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField(help_text="RFC 9162 Merkle tree hash, hex")
    timestamp_ms = serializers.IntegerField(help_text="Milliseconds since the Unix epoch, when it was signed")
    key_id = serializers.CharField(help_text="SHA-256 of the raw Ed25519 public key, hex")
    signature = serializers.CharField(
        help_text=f"Ed25519 signature, hex, of '{HEAD_PREFIX}\\n{{tree_size}}\\n{{root_hash}}\\n{{timestamp_ms}}\\n'"
    )


class InclusionProofSerializer(serializers.Serializer):
    transaction_id = serializers.UUIDField()
    leaf_index = serializers.IntegerField()
    leaf_hash = serializers.CharField(help_text="SHA-256(0x00 || the transaction's hash as 32 bytes), hex")
    head = TreeHeadSerializer()
    path = serializers.ListField(child=serializers.CharField(), help_text="RFC 9162 audit path, hex, leaf side first")


class ConsistencyProofSerializer(serializers.Serializer):
    first = TreeHeadSerializer()
    second = TreeHeadSerializer()
    path = serializers.ListField(child=serializers.CharField(), help_text="RFC 9162 consistency proof, hex")


class PublicKeySerializer(serializers.Serializer):
    algorithm = serializers.CharField()
    public_key = serializers.CharField(help_text="Raw 32-byte Ed25519 public key, hex")
    key_id = serializers.CharField()


class LogHeadLatestApi(LogApi):
    @extend_schema(tags=["transparency log"], responses={200: TreeHeadSerializer, **READ_ERRORS})
    def get(self, request: Request) -> Response:
        """The newest signed tree head."""
        head = latest_signed_head()
        if head is None:
            raise NotFound("the log has no signed head yet")
        return Response(TreeHeadSerializer(vars(head)).data)


class LogHeadAtApi(LogApi):
    @extend_schema(tags=["transparency log"], responses={200: TreeHeadSerializer, **READ_ERRORS})
    def get(self, request: Request, tree_size: int) -> Response:
        """The signed tree head of a given size (heads are one per size)."""
        if tree_size > MAX_SIZE:
            raise NotFound(f"no signed tree head of size {tree_size}", fields={"tree_size": ["no signed head"]})
        return Response(TreeHeadSerializer(vars(head_at(tree_size))).data)


class SizeQuerySerializer(StrictInputSerializer):
    tree_size = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_SIZE, help_text="A signed head's size; default latest"
    )


class LogInclusionApi(LogApi):
    @extend_schema(
        tags=["transparency log"],
        parameters=[SizeQuerySerializer],
        responses={200: InclusionProofSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, transaction_id: uuid.UUID) -> Response:
        """The inclusion proof of a journal transaction in a signed head (404 until it is sealed)."""
        query = SizeQuerySerializer(data=request.query_params.dict(), context=QUERY_STRING)
        query.is_valid(raise_exception=True)
        proof = inclusion_proof(transaction_id=transaction_id, tree_size=query.validated_data.get("tree_size"))
        data = {**vars(proof), "head": vars(proof.head)}
        return Response(InclusionProofSerializer(data).data)


class ConsistencyQuerySerializer(StrictInputSerializer):
    first = serializers.IntegerField(min_value=0, max_value=MAX_SIZE, help_text="The size of the head the caller kept")
    second = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_SIZE, help_text="A later head's size; default latest"
    )


class LogConsistencyApi(LogApi):
    @extend_schema(
        tags=["transparency log"],
        parameters=[ConsistencyQuerySerializer],
        responses={200: ConsistencyProofSerializer, **READ_ERRORS},
    )
    def get(self, request: Request) -> Response:
        """The consistency proof that a later signed head extends an earlier one."""
        query = ConsistencyQuerySerializer(data=request.query_params.dict(), context=QUERY_STRING)
        query.is_valid(raise_exception=True)
        proof = consistency_proof(
            first_size=query.validated_data["first"], second_size=query.validated_data.get("second")
        )
        data = {"first": vars(proof.first), "second": vars(proof.second), "path": proof.path}
        return Response(ConsistencyProofSerializer(data).data)


class LogPublicKeyApi(LogApi):
    @extend_schema(tags=["transparency log"], responses={200: PublicKeySerializer, **READ_ERRORS})
    def get(self, request: Request) -> Response:
        """The Ed25519 public key that signs the tree heads (and holdings statements): pin it."""
        public_key, key_id = log_public_key()
        return Response(PublicKeySerializer({"algorithm": "ed25519", "public_key": public_key, "key_id": key_id}).data)
