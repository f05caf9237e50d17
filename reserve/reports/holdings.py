"""Holdings at a time or a block height, grouped by wallet, agency, category or provenance, with fiat value.

By wallet and agency the balances are the ledger's as-of balances (checkpointed, one query).
By category and provenance each wallet entry is attributed to the transfer it books (the
journal transaction's `transfer_id`, or that of the transaction it reverses): the rows are
the net flows into the wallets by the transfer's category or provenance reference, so they
add up to the same total; entries that book no transfer (adjustments, imports) appear
under their journal kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from config.errors import NotFound, ValidationFailed
from ledger.selectors import balances_as_of, balances_now, entry_sums_by_metadata
from policy.selectors import involuntary_category_codes
from reserve.common.settings import reporting_currency
from reserve.custody.models import Agency, Wallet
from reserve.custody.selectors import membership_at
from reserve.pricing.models import PriceQuote
from reserve.pricing.selectors import price_in_force, value_sats
from reserve.reports.chain_point import ChainPoint, chain_point, height_moment
from reserve.transfers.models import Transfer

GROUPS = ("wallet", "agency", "category", "provenance")
UNATTRIBUTED = "unattributed"


@dataclass(frozen=True)
class HoldingsRow:
    key: str
    label: str
    balance_sats: int
    fiat_value: Decimal | None
    wallet_id: int | None = None
    agency_id: int | None = None
    agency_name: str = ""
    in_perimeter: bool | None = None


@dataclass(frozen=True)
class HoldingsReport:
    point: ChainPoint
    group_by: str
    currency: str
    quote: PriceQuote | None
    rows: list[HoldingsRow]
    total_sats: int
    perimeter_sats: int
    total_fiat_value: Decimal | None
    perimeter_fiat_value: Decimal | None


def _value(sats: int, quote: PriceQuote | None) -> Decimal | None:
    return None if quote is None else value_sats(sats=sats, quote=quote)


def _wallet_balances(wallets: Sequence[Wallet], *, at: datetime | None, height: int | None) -> dict[int, int]:
    accounts = [wallet.ledger_account for wallet in wallets]
    if height is not None:
        by_account = balances_as_of(accounts=accounts, block_height=height)
    elif at is not None:
        by_account = balances_as_of(accounts=accounts, occurred_at=at)
    else:
        by_account = balances_now(accounts=accounts)
    return {wallet.pk: int(by_account.get(wallet.ledger_account_id, 0)) for wallet in wallets}


def _transfer_id(ref: str | None) -> int | None:
    return int(ref) if ref and ref.isascii() and ref.isdigit() and len(ref) <= 18 else None


def _attributed(
    wallets: Sequence[Wallet], *, at: datetime | None, height: int | None
) -> list[tuple[Wallet, str, str, int]]:
    """(wallet, category, provenance, sats) for every wallet entry up to the cut, summed by the
    transfer its journal books (the `transfer_id` of its metadata, or of the journal it reverses)."""
    by_account = {wallet.ledger_account_id: wallet for wallet in wallets}
    sums = entry_sums_by_metadata(
        accounts=[wallet.ledger_account for wallet in wallets], key="transfer_id", at=at, height=height
    )
    ids = {_transfer_id(ref) for _, ref, _, _ in sums} - {None}
    transfers = {
        pk: (category, provenance)
        for pk, category, provenance in Transfer.objects.filter(pk__in=ids).values_list(
            "pk", "category", "provenance_reference"
        )
    }
    rows = []
    for account_id, ref, kind, sats in sums:
        found = transfers.get(_transfer_id(ref))  # type: ignore[arg-type]
        category, provenance = found if found else (f"{UNATTRIBUTED}:{kind}", f"{UNATTRIBUTED}:{kind}")
        rows.append((by_account[account_id], category, provenance, sats))
    return rows


def _quote(*, currency: str, at: datetime | None) -> PriceQuote | None:
    if not currency or at is None:
        return None
    try:
        return price_in_force(currency=currency, at=at)
    except NotFound:
        return None


def holdings_report(
    *,
    at: datetime | None = None,
    height: int | None = None,
    group_by: str = "wallet",
    currency: str = "",
    wallets: QuerySet[Wallet] | None = None,
    agency_id: int | None = None,
    in_perimeter: bool | None = None,
    category: str = "",
    involuntary: bool | None = None,
) -> HoldingsReport:
    """Holdings as of `at` (economic time), at block `height`, or now (neither), in `group_by` rows.

    Each wallet stands in the agency and on the side of the perimeter its membership then in force
    put it (the report's time; the block's time for a height), and `agency_id` / `in_perimeter`
    keep the wallets that membership places there. `wallets` narrows the wallets counted; `category` keeps only
    the holdings attributed to transfers of that category; `involuntary` False leaves out, True keeps only, what
    came in without the reserve acting (transfers of an involuntary category: dust, donations, forks), so a
    report shows holdings with and without them. Fiat values use the quote in
    force at the report's time (the block's time for a height); None when there is none.
    """
    if group_by not in GROUPS:
        raise ValidationFailed.for_field("group_by", f"must be one of {', '.join(GROUPS)}")
    point = chain_point(at=at, height=height)
    currency = (currency or reporting_currency()).upper()
    quote = _quote(currency=currency, at=point.as_of)
    chosen = list(
        (wallets if wallets is not None else Wallet.objects.all())
        .select_related("agency", "ledger_account")
        .order_by("pk")
    )
    # Membership as then in force: at the report's time (for a height, the block's time, else when
    # the books last moved at or below it); now for a report of now.
    moment = point.as_of
    if moment is None and height is not None:
        moment = height_moment(height)
    then = membership_at(at=moment)
    chosen = [
        wallet
        for wallet in chosen
        if (agency_id is None or then[wallet.pk].agency_id == agency_id)
        and (in_perimeter is None or then[wallet.pk].in_perimeter == in_perimeter)
    ]
    agency_names = {wallet.agency_id: wallet.agency.name for wallet in chosen}  # the agencies now
    earlier = {then[wallet.pk].agency_id for wallet in chosen} - set(agency_names)
    if earlier:
        agency_names |= dict(Agency.objects.filter(pk__in=earlier).values_list("pk", "name"))
    rows: list[HoldingsRow]
    attributed: list[tuple[Wallet, str, str, int]] = []
    if group_by in ("wallet", "agency") and not category and involuntary is None:
        balances = _wallet_balances(chosen, at=at, height=height)
        per_wallet = [(wallet, balances[wallet.pk]) for wallet in chosen]
    else:
        unasked = involuntary_category_codes() if involuntary is not None else frozenset()
        attributed = [
            row
            for row in _attributed(chosen, at=at, height=height)
            if (not category or row[1] == category) and (involuntary is None or (row[1] in unasked) == involuntary)
        ]
        per_wallet_sums: dict[int, int] = {}
        for wallet, _, _, sats in attributed:
            per_wallet_sums[wallet.pk] = per_wallet_sums.get(wallet.pk, 0) + sats
        per_wallet = [(wallet, per_wallet_sums.get(wallet.pk, 0)) for wallet in chosen]
    if group_by == "wallet":
        rows = [
            HoldingsRow(
                key=str(wallet.pk),
                label=wallet.name,
                balance_sats=sats,
                fiat_value=_value(sats, quote),
                wallet_id=wallet.pk,
                agency_id=then[wallet.pk].agency_id,
                agency_name=agency_names[then[wallet.pk].agency_id],
                in_perimeter=then[wallet.pk].in_perimeter,
            )
            for wallet, sats in per_wallet
        ]
    elif group_by == "agency":
        agencies: dict[int, tuple[str, int]] = {}
        for wallet, sats in per_wallet:
            held_by = then[wallet.pk].agency_id
            name, total = agencies.get(held_by, (agency_names[held_by], 0))
            agencies[held_by] = (name, total + sats)
        rows = [
            HoldingsRow(
                key=str(agency_id), label=name, balance_sats=sats, fiat_value=_value(sats, quote), agency_id=agency_id
            )
            for agency_id, (name, sats) in sorted(agencies.items())
        ]
    else:
        position = 1 if group_by == "category" else 2
        groups: dict[str, int] = {}
        for row in attributed:
            label = str(row[position]) or "(none)"
            groups[label] = groups.get(label, 0) + row[3]
        rows = [
            HoldingsRow(key=label, label=label, balance_sats=sats, fiat_value=_value(sats, quote))
            for label, sats in sorted(groups.items())
        ]
    total = sum(sats for _, sats in per_wallet)
    perimeter = sum(sats for wallet, sats in per_wallet if then[wallet.pk].in_perimeter)
    return HoldingsReport(
        point=point,
        group_by=group_by,
        currency=currency,
        quote=quote,
        rows=rows,
        total_sats=total,
        perimeter_sats=perimeter,
        total_fiat_value=_value(total, quote),
        perimeter_fiat_value=_value(perimeter, quote),
    )
