"""The books, read-only for everyone (superusers included): corrections are reversals posted by
services, never edits. Viewing follows the ledger's view permissions the role groups carry."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import TabularInline

from ledger.models import Account, AccountBalance, Entry, JournalTransaction, PendingEntry, PendingTransaction
from reserve.admin.common import ReadOnlyAdmin
from reserve.templatetags.reserve_admin import btc


class ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "account_type", "currency", "non_negative", "balance", "reserved")
    list_filter = ("account_type", "currency", "non_negative")
    search_fields = ("code", "name", "external_reference")
    readonly_fields = ("balance", "reserved")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return super().get_queryset(request).select_related("balance")

    @admin.display(description="balance")
    def balance(self, account: Account) -> str:
        try:
            return btc(account.balance.balance_sats)
        except AccountBalance.DoesNotExist:
            return btc(0)

    @admin.display(description="reserved by pending transfers")
    def reserved(self, account: Account) -> str:
        try:
            return btc(account.balance.pending_sats)
        except AccountBalance.DoesNotExist:
            return btc(0)


class EntryInline(ReadOnlyInline):
    model = Entry
    fields = ("account", "amount_sats", "currency", "balance_after_sats")
    readonly_fields = fields


@admin.register(JournalTransaction)
class JournalTransactionAdmin(ReadOnlyAdmin):
    list_display = ("sequence", "kind", "occurred_at", "posted_at", "block_height", "txid", "memo")
    list_filter = ("kind",)
    search_fields = ("txid", "idempotency_key", "memo", "hash")
    date_hierarchy = "occurred_at"
    ordering = ("-sequence",)
    inlines = (EntryInline,)


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("sequence", "account", "amount_sats", "currency", "balance_after_sats", "occurred_at")
    list_filter = ("currency", "account__account_type")
    search_fields = ("account__code",)
    list_select_related = ("account",)
    ordering = ("-sequence", "-id")


@admin.register(AccountBalance)
class AccountBalanceAdmin(ReadOnlyAdmin):
    list_display = ("account", "balance_sats", "pending_sats", "entry_count", "last_sequence", "updated_at")
    search_fields = ("account__code",)
    list_select_related = ("account",)


class PendingEntryInline(ReadOnlyInline):
    model = PendingEntry
    fields = ("account", "amount_sats", "currency")
    readonly_fields = fields


@admin.register(PendingTransaction)
class PendingTransactionAdmin(ReadOnlyAdmin):
    list_display = ("kind", "status", "memo", "created_at", "expires_at", "resolved_at")
    list_filter = ("status", "kind")
    search_fields = ("idempotency_key", "memo")
    inlines = (PendingEntryInline,)
