"""The books: journal transactions with their entries, account balances as of a time or block,
and the verification of the journal's hash chain."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger.models import Account, AccountType, Entry, JournalTransaction
from ledger.selectors import balances_as_of, journal_list, verify_balances, verify_chain
from ledger.verification import verify_stored_values
from policy.selectors import policy_versions_unbound
from reserve.api.base import (
    FORMAT_PARAMETER,
    QUERY_STRING,
    READ_ERRORS,
    ApiMixin,
    BtcField,
    CsvMixin,
    Pagination,
    StatedPagination,
    StrictInputSerializer,
    TimeField,
    list_responses,
)
from reserve.api.filters import BACKENDS, agency_filter, date_range, wallet_filter
from reserve.custody.selectors import membership_then
from reserve.reports.chain_point import chain_point
from reserve.transfers.models import Transfer


class EntrySerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.code")
    amount_btc = BtcField(source="amount_sats")

    class Meta:
        model = Entry
        fields = ["account", "amount_sats", "amount_btc", "currency"]


class JournalTransactionSerializer(serializers.ModelSerializer):
    entries = EntrySerializer(many=True)

    class Meta:
        model = JournalTransaction
        fields = [
            "id",
            "sequence",
            "kind",
            "idempotency_key",
            "request_hash",
            "occurred_at",
            "posted_at",
            "block_height",
            "block_hash",
            "txid",
            "memo",
            "metadata",
            "reverses",
            "created_by",
            "prev_hash",
            "hash",
            "entries",
        ]


@date_range("occurred_at")
class JournalFilter(django_filters.FilterSet):
    kind = django_filters.CharFilter()
    txid = django_filters.CharFilter()
    account = django_filters.CharFilter(method="filter_account", label="Account code with entries in the transaction")
    wallet = wallet_filter(method="filter_wallet", label="Wallet id with entries in the transaction")
    agency = agency_filter(method="filter_agency", label="Agency id of a wallet with entries")
    category = django_filters.CharFilter(method="filter_category", label="Postings of transfers of this category")
    min_height = django_filters.NumberFilter(field_name="block_height", lookup_expr="gte")
    max_height = django_filters.NumberFilter(field_name="block_height", lookup_expr="lte")

    class Meta:
        model = JournalTransaction
        fields: list[str] = []

    def _touching(self, queryset: QuerySet[JournalTransaction], **entry: Any) -> QuerySet[JournalTransaction]:
        return queryset.filter(pk__in=Entry.objects.filter(**entry).values("transaction_id"))

    def filter_account(self, queryset: QuerySet[JournalTransaction], name: str, value: Any) -> Any:
        return self._touching(queryset, account__code=value)

    def filter_wallet(self, queryset: QuerySet[JournalTransaction], name: str, value: Any) -> Any:
        return self._touching(queryset, account__custody_wallet__pk=value)

    def filter_agency(self, queryset: QuerySet[JournalTransaction], name: str, value: Any) -> Any:
        """Transactions with entries on a wallet the agency held at the transaction's time."""
        entries = (
            Entry.objects.filter(account__custody_wallet__isnull=False)
            .annotate(
                agency_then=membership_then(
                    wallet="account__custody_wallet__id", when="transaction__occurred_at", attribute="agency_id"
                )
            )
            .filter(agency_then=value)
        )
        return queryset.filter(pk__in=entries.values("transaction_id"))

    def filter_category(self, queryset: QuerySet[JournalTransaction], name: str, value: Any) -> Any:
        transfers = Transfer.objects.filter(category=value)
        return queryset.filter(
            Q(pk__in=transfers.values("journal_transaction_id")) | Q(pk__in=transfers.values("reversal_transaction_id"))
        )


@extend_schema_view(
    list=extend_schema(
        tags=["ledger"],
        parameters=[FORMAT_PARAMETER],
        responses=list_responses(JournalTransactionSerializer),
    )
)
class JournalTransactionViewSet(CsvMixin, viewsets.GenericViewSet):
    """Journal transactions in sequence order with their entries, hashes and chain fields."""

    serializer_class = JournalTransactionSerializer
    pagination_class = Pagination
    filter_backends = BACKENDS
    filterset_class = JournalFilter

    def get_queryset(self) -> QuerySet[JournalTransaction]:
        return journal_list()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(JournalTransactionSerializer(page, many=True).data)


class AccountSerializer(serializers.ModelSerializer):
    balance_sats = serializers.SerializerMethodField()
    balance_btc = serializers.SerializerMethodField()
    wallet = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = [
            "id",
            "code",
            "name",
            "account_type",
            "currency",
            "non_negative",
            "wallet",
            "balance_sats",
            "balance_btc",
        ]

    def get_balance_sats(self, account: Account) -> int:
        return int(self.context["balances"].get(account.pk, 0))

    def get_balance_btc(self, account: Account) -> str:
        return str(BtcField().to_representation(self.get_balance_sats(account)))

    def get_wallet(self, account: Account) -> int | None:
        wallet = getattr(account, "custody_wallet", None)
        return wallet.pk if wallet is not None else None


class AccountFilter(django_filters.FilterSet):
    account_type = django_filters.ChoiceFilter(choices=AccountType.choices)
    code_prefix = django_filters.CharFilter(field_name="code", lookup_expr="startswith")
    wallet = wallet_filter(field_name="custody_wallet__pk")
    agency = agency_filter(field_name="custody_wallet__agency_id")

    class Meta:
        model = Account
        fields: list[str] = []


class AsOfInput(StrictInputSerializer):
    as_of = TimeField(required=False, help_text="Balances by economic time (occurred_at)")
    height = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    posted_as_of = TimeField(required=False, help_text="What the books said then (posted_at)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len([value for value in attrs.values() if value is not None]) > 1:
            raise serializers.ValidationError({"as_of": ["give at most one of as_of, height, posted_as_of"]})
        return attrs


@extend_schema_view(
    list=extend_schema(
        tags=["ledger"],
        parameters=[
            OpenApiParameter("as_of", OpenApiTypes.DATETIME, description="Balances by economic time"),
            OpenApiParameter("height", OpenApiTypes.INT, description="Balances at this block height"),
            OpenApiParameter("posted_as_of", OpenApiTypes.DATETIME, description="Balances as the books said then"),
            FORMAT_PARAMETER,
        ],
        responses=list_responses(AccountSerializer),
    )
)
class AccountViewSet(CsvMixin, viewsets.GenericViewSet):
    """Ledger accounts with their balance now or as of a time, a block height or a posting time."""

    serializer_class = AccountSerializer
    pagination_class = StatedPagination
    filter_backends = BACKENDS
    filterset_class = AccountFilter

    def get_queryset(self) -> QuerySet[Account]:
        return Account.objects.select_related("balance", "custody_wallet").order_by("code")

    def list(self, request: Request) -> Response:
        query = AsOfInput(
            data={k: v for k, v in request.query_params.items() if k in AsOfInput._declared_fields},
            context=QUERY_STRING,
        )
        query.is_valid(raise_exception=True)
        as_of, height, posted = (query.validated_data.get(name) for name in ("as_of", "height", "posted_as_of"))
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        accounts = list(page or [])
        if as_of is None and height is None and posted is None:
            balances = {account.pk: account.balance.balance_sats for account in accounts}
            point = chain_point()
        else:
            balances = balances_as_of(accounts=accounts, occurred_at=as_of, block_height=height, posted_at=posted)
            point = chain_point(height=height) if height is not None else chain_point(at=as_of or posted)
        assert isinstance(self.paginator, StatedPagination)
        self.paginator.stated = {
            "as_of": point.as_of.isoformat() if point.as_of else None,
            "height": point.height,
            "block_hash": point.block_hash,
        }
        data = AccountSerializer(accounts, many=True, context={"balances": balances}).data
        return self.get_paginated_response(data)


class StoredValueDifferenceSerializer(serializers.Serializer):
    check = serializers.CharField(
        help_text="Which derived value: entry copies, running balances, current balances, ..."
    )
    table = serializers.CharField()
    row = serializers.CharField(help_text="The row that differs, e.g. id=42 or account_id=7")
    account_id = serializers.IntegerField(allow_null=True)
    column = serializers.CharField()
    stored = serializers.CharField()
    recomputed = serializers.CharField(help_text="What the entries give")


class UnboundVersionSerializer(serializers.Serializer):
    version_id = serializers.IntegerField()
    policy = serializers.CharField()
    version = serializers.IntegerField()
    content_sha256 = serializers.CharField(help_text="The hash of the version's content as stored now")
    approvals_of_content = serializers.IntegerField(help_text="Approvals whose hash is that content's")


class ChainVerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="The chain, every stored value and every approved policy version verify")
    chain_ok = serializers.BooleanField(help_text="The hash chain verifies from the genesis hash")
    length = serializers.IntegerField(help_text="Transactions verified in sequence from the genesis hash")
    head_hash = serializers.CharField(help_text="Hash of the last transaction that verified")
    first_bad_sequence = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    balances_ok = serializers.BooleanField(help_text="Every stored balance equals the sum of its entries")
    balance_mismatches = serializers.ListField(child=serializers.DictField())
    stored_values_ok = serializers.BooleanField(
        help_text="Running balances, current balances, reservations and checkpoints equal what the entries give"
    )
    stored_value_checks = serializers.ListField(child=serializers.CharField())
    first_difference = StoredValueDifferenceSerializer(allow_null=True)
    policy_versions_ok = serializers.BooleanField(
        help_text="Every approved version is the content its approvals hashed"
    )
    policy_versions_unbound = UnboundVersionSerializer(many=True)
    verified_at = serializers.DateTimeField()


class LedgerVerifyApi(ApiMixin, APIView):
    @extend_schema(tags=["ledger"], responses={200: ChainVerificationSerializer, **READ_ERRORS})
    def get(self, request: Request) -> Response:
        """Re-verify the journal's hash chain from the genesis hash (length, head hash, first bad sequence
        or none), that every stored derived value equals what the entries give (the first difference
        named), and that every approved policy version is still the content its approvals hashed."""
        chain = verify_chain()
        mismatches = verify_balances()
        stored = verify_stored_values()
        unbound = policy_versions_unbound()
        result = {
            "ok": chain.ok and not mismatches and stored.ok and not unbound,
            "chain_ok": chain.ok,
            "length": chain.length,
            "head_hash": chain.head_hash,
            "first_bad_sequence": chain.first_bad_sequence,
            "reason": chain.reason,
            "balances_ok": not mismatches,
            "balance_mismatches": [vars(mismatch) for mismatch in mismatches],
            "stored_values_ok": stored.ok,
            "stored_value_checks": list(stored.checks),
            "first_difference": vars(stored.first_difference) if stored.first_difference else None,
            "policy_versions_ok": not unbound,
            "policy_versions_unbound": [vars(version) for version in unbound],
            "verified_at": timezone.now(),
        }
        return Response(ChainVerificationSerializer(result).data)
