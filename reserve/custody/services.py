"""Writes of custody: holding agencies, counterparties, and watch-only wallets whose watched
scripts are kept ahead of use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify

from config.errors import ValidationFailed
from ledger.models import Account, AccountType
from ledger.services import account_create
from reserve.access.roles import require_permission
from reserve.audit.services import audit_record, snapshot
from reserve.common.free_text import free_text_check
from reserve.custody.addresses import NETWORKS, parse_address
from reserve.custody.descriptors import MAX_GAP_LIMIT, ParsedDescriptor, descriptor_derive, descriptor_parse
from reserve.custody.membership import membership_register
from reserve.custody.models import (
    Agency,
    AgencyKind,
    Counterparty,
    CounterpartyKind,
    Wallet,
    WalletDescriptor,
    WalletKind,
    WatchedScript,
)


def wallet_account_code(name: str) -> str:
    return f"assets:custody:{slugify(name)}"


def _validate_wallet_fields(*, name: str, kind: str, network: str, birthday_height: int, gap_limit: int) -> None:
    if not name:
        raise ValidationFailed.for_field("name", "is required")
    # Before the name is slugified into the ledger account's code (free_text.py guards the saves too).
    free_text_check(Wallet(name=name))
    if not slugify(name):
        raise ValidationFailed.for_field("name", "needs at least one letter or digit (it names the ledger account)")
    if kind not in WalletKind.values:
        raise ValidationFailed.for_field("kind", f"must be one of {', '.join(WalletKind.values)}")
    if network not in NETWORKS:
        raise ValidationFailed.for_field("network", f"must be one of {', '.join(NETWORKS)}")
    if not isinstance(birthday_height, int) or birthday_height < 0:
        raise ValidationFailed.for_field("birthday_height", "must be a block height >= 0")
    if not isinstance(gap_limit, int) or not 1 <= gap_limit <= MAX_GAP_LIMIT:
        raise ValidationFailed.for_field("gap_limit", f"must be between 1 and {MAX_GAP_LIMIT}")


def _derive_ahead(
    *, wallet: Wallet, row: WalletDescriptor, parsed: ParsedDescriptor, stops: dict[int, int]
) -> list[WatchedScript]:
    """Derive each chain of `row` from its next index up to its stop (exclusive) and advance next_index."""
    scripts = []
    for chain, stop in stops.items():
        start = int(row.next_index.get(str(chain), 0))
        if stop <= start:
            continue
        for derived in descriptor_derive(parsed=parsed, network=wallet.network, chain=chain, start=start, stop=stop):
            scripts.append(
                WatchedScript(
                    wallet=wallet,
                    descriptor=row,
                    script_pubkey=derived.script_pubkey,
                    address=derived.address,
                    derivation_path=derived.derivation_path,
                    chain=chain if parsed.is_ranged else None,
                    index=derived.index,
                )
            )
        row.next_index[str(chain)] = stop if parsed.is_ranged else 1
    return scripts


def _refuse_duplicates(scripts: Sequence[WatchedScript], *, wallet: Wallet | None) -> None:
    seen: dict[bytes, str] = {}
    for script in scripts:
        key = bytes(script.script_pubkey)
        if key in seen:
            raise ValidationFailed.for_field(
                "addresses", f"{script.address} is listed twice (as {seen[key]} and again)"
            )
        seen[key] = script.address
    taken = WatchedScript.objects.filter(script_pubkey__in=list(seen))
    if wallet is not None:
        taken = taken.exclude(wallet=wallet)
    clash = taken.select_related("wallet").first()
    if clash is not None:
        raise ValidationFailed.for_field(
            "addresses",
            f"{clash.address} is already watched by wallet {clash.wallet.name}; a script belongs to one wallet",
        )


def wallet_register(
    *,
    name: str,
    agency: Agency,
    kind: str,
    network: str,
    in_perimeter: bool = True,
    birthday_height: int = 0,
    gap_limit: int = 20,
    descriptors: Iterable[str] = (),
    addresses: Iterable[str] = (),
    actor: Any,
) -> Wallet:
    """Create a wallet, its ledger account (asset, non-negative), its first membership (`agency`,
    `in_perimeter`, in force since the beginning of its books) and its watched scripts, or nothing.

    Every descriptor and address is validated (checksum, network, no private keys) before
    anything is written; descriptors are derived on each chain up to the gap limit.
    """
    require_permission(actor, "add_wallet", action="register a wallet")
    name = name.strip()
    _validate_wallet_fields(name=name, kind=kind, network=network, birthday_height=birthday_height, gap_limit=gap_limit)
    parsed_descriptors = [
        descriptor_parse(descriptor=text, network=network, field=f"descriptors[{position}]")
        for position, text in enumerate(descriptors)
    ]
    parsed_addresses = [
        parse_address(address=text, network=network, field=f"addresses[{position}]")
        for position, text in enumerate(addresses)
    ]
    if not parsed_descriptors and not parsed_addresses:
        raise ValidationFailed.for_field("descriptors", "give at least one descriptor or address")
    code = wallet_account_code(name)
    with transaction.atomic():
        if Wallet.objects.filter(name=name).exists():
            raise ValidationFailed.for_field("name", f"a wallet named {name!r} already exists")
        if Account.objects.filter(code=code).exists():
            raise ValidationFailed.for_field("name", f"the ledger account {code} already exists; choose another name")
        account = account_create(
            code=code,
            name=f"Custody wallet {name}",
            account_type=AccountType.ASSET,
            non_negative=True,
            external_reference=f"reserve.wallet:{name}",
        )
        wallet = Wallet.objects.create(
            name=name,
            agency=agency,
            kind=kind,
            network=network,
            in_perimeter=in_perimeter,
            birthday_height=birthday_height,
            gap_limit=gap_limit,
            ledger_account=account,
            created_by=actor,
        )
        membership_register(wallet=wallet, actor=actor)
        scripts: list[WatchedScript] = []
        for parsed in parsed_descriptors:
            row = WalletDescriptor(wallet=wallet, descriptor=parsed.text, kind=parsed.kind, is_ranged=parsed.is_ranged)
            if WalletDescriptor.objects.filter(wallet=wallet, descriptor=parsed.text).exists() or any(
                parsed.text == other.text for other in parsed_descriptors if other is not parsed
            ):
                raise ValidationFailed.for_field("descriptors", f"{parsed.text[:40]}… is listed twice")
            row.save()
            stops = dict.fromkeys(parsed.chains, gap_limit)
            scripts.extend(_derive_ahead(wallet=wallet, row=row, parsed=parsed, stops=stops))
            row.save(update_fields=["next_index"])
        scripts.extend(
            WatchedScript(wallet=wallet, script_pubkey=parsed.script_pubkey, address=parsed.address)
            for parsed in parsed_addresses
        )
        _refuse_duplicates(scripts, wallet=None)
        WatchedScript.objects.bulk_create(scripts)
        after = snapshot(wallet) | {
            "descriptors": [parsed.text for parsed in parsed_descriptors],
            "addresses": [parsed.address for parsed in parsed_addresses],
            "watched_scripts": len(scripts),
        }
        audit_record(actor=actor, action="wallet.register", instance=wallet, before=None, after=after)
    return wallet


def wallet_update(
    *,
    wallet: Wallet,
    actor: Any,
    birthday_height: int | None = None,
    gap_limit: int | None = None,
) -> Wallet:
    """Change a wallet's birthday or gap limit (its scripts and account stay). Its agency and
    perimeter membership change only by approval (reserve/custody/membership.py)."""
    require_permission(actor, "change_wallet", action="change a wallet")
    with transaction.atomic():
        locked = Wallet.objects.select_for_update().get(pk=wallet.pk)
        before = snapshot(locked)
        _validate_wallet_fields(
            name=locked.name,
            kind=locked.kind,
            network=locked.network,
            birthday_height=locked.birthday_height if birthday_height is None else birthday_height,
            gap_limit=locked.gap_limit if gap_limit is None else gap_limit,
        )
        if birthday_height is not None:
            locked.birthday_height = birthday_height
        if gap_limit is not None:
            locked.gap_limit = gap_limit
        locked.save(update_fields=["birthday_height", "gap_limit"])
        audit_record(actor=actor, action="wallet.update", instance=locked, before=before, after=snapshot(locked))
    if gap_limit is not None:
        wallet_extend_gap(wallet=locked, actor=actor)
    return locked


def wallet_extend_gap(*, wallet: Wallet, used_script_pubkeys: Iterable[bytes] = (), actor: Any = None) -> int:
    """Mark scripts seen on chain as used and derive every chain `gap_limit` past its last used index.

    Called by the scanner (actor None) or an operator; returns how many scripts were added.
    """
    if actor is not None:
        require_permission(actor, "change_wallet", action="extend a wallet's watched scripts")
    used = [bytes(script) for script in used_script_pubkeys]
    with transaction.atomic():
        locked = Wallet.objects.select_for_update().get(pk=wallet.pk)
        marked = WatchedScript.objects.filter(wallet=locked, script_pubkey__in=used, used=False).update(used=True)
        added: list[WatchedScript] = []
        for row in WalletDescriptor.objects.select_for_update().filter(wallet=locked, is_ranged=True).order_by("pk"):
            parsed = descriptor_parse(descriptor=row.descriptor, network=locked.network)
            last_used = dict(
                WatchedScript.objects.filter(descriptor=row, used=True)
                .values("chain")
                .annotate(last=Max("index"))
                .values_list("chain", "last")
            )
            stops = {chain: int(last_used.get(chain, -1)) + 1 + locked.gap_limit for chain in parsed.chains}
            added.extend(_derive_ahead(wallet=locked, row=row, parsed=parsed, stops=stops))
            row.save(update_fields=["next_index"])
        _refuse_duplicates(added, wallet=locked)
        WatchedScript.objects.bulk_create(added)
        if marked or added:
            audit_record(
                actor=actor,
                action="wallet.extend_gap",
                instance=locked,
                before=None,
                after={"marked_used": marked, "scripts_added": len(added)},
            )
    return len(added)


def agency_create(*, name: str, kind: str = AgencyKind.OTHER, jurisdiction: str = "", actor: Any) -> Agency:
    require_permission(actor, "add_agency", action="create an agency")
    name = name.strip()
    if not name:
        raise ValidationFailed.for_field("name", "is required")
    if kind not in AgencyKind.values:
        raise ValidationFailed.for_field("kind", f"must be one of {', '.join(AgencyKind.values)}")
    with transaction.atomic():
        if Agency.objects.filter(name=name).exists():
            raise ValidationFailed.for_field("name", f"an agency named {name!r} already exists")
        agency = Agency.objects.create(name=name, kind=kind, jurisdiction=jurisdiction.strip(), created_by=actor)
        audit_record(actor=actor, action="agency.create", instance=agency, before=None, after=snapshot(agency))
    return agency


def counterparty_create(
    *, name: str, kind: str = CounterpartyKind.OTHER, reference: str = "", actor: Any
) -> Counterparty:
    require_permission(actor, "add_counterparty", action="create a counterparty")
    name = name.strip()
    if not name:
        raise ValidationFailed.for_field("name", "is required")
    if kind not in CounterpartyKind.values:
        raise ValidationFailed.for_field("kind", f"must be one of {', '.join(CounterpartyKind.values)}")
    with transaction.atomic():
        if Counterparty.objects.filter(name=name).exists():
            raise ValidationFailed.for_field("name", f"a counterparty named {name!r} already exists")
        counterparty = Counterparty.objects.create(name=name, kind=kind, reference=reference.strip(), created_by=actor)
        audit_record(
            actor=actor, action="counterparty.create", instance=counterparty, before=None, after=snapshot(counterparty)
        )
    return counterparty
