"""The one private-key detector (ledger/secrets.py): every WIF and extended private key form,
found anywhere in a text; public material, addresses and prose pass; the hex rule."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import ValidationFailed
from ledger.models import JournalTransaction, PendingTransaction
from ledger.secrets import HEX_VALUE, WIF, private_key_in, private_key_in_json
from ledger.services import EntrySpec, pending_create, post_transaction
from tests.secret_keys import EXTENDED_PRIVATE as XPRVS
from tests.secret_keys import HEX_SECRET, TPRV, WIFS, XPUB

TXID = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"


@pytest.mark.parametrize("name", sorted(WIFS))
@pytest.mark.parametrize("template", ["{}", "memo: {} (cold storage)", "pay{}now", "[{}]", "wpkh({})"])
def test_every_wif_is_found_wherever_it_sits(name: str, template: str) -> None:
    assert private_key_in(template.format(WIFS[name])) == WIF


@pytest.mark.parametrize("prefix", sorted(XPRVS))
@pytest.mark.parametrize("template", ["{}", "ref {} end", "wpkh([d34db33f/84h/0h/0h]{}/0/*)", "x{}y"])
def test_every_extended_private_key_is_found_wherever_it_sits(prefix: str, template: str) -> None:
    assert private_key_in(template.format(XPRVS[prefix])) == f"{prefix}…"


def test_a_mistyped_xprv_is_still_refused_and_a_mistyped_wif_is_not_a_key() -> None:
    broken_xprv = TPRV[:-1] + ("2" if TPRV[-1] != "2" else "3")
    broken_wif = WIFS["mainnet compressed"][:-1] + ("2" if WIFS["mainnet compressed"][-1] != "2" else "3")
    assert private_key_in(broken_xprv) == "tprv…"
    assert private_key_in(broken_wif) is None


@pytest.mark.parametrize(
    "text",
    [
        XPUB,
        f"wpkh([73c5da0a/84h/1h/0h]{XPUB}/0/*)",
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
        "Final forfeiture order 2026-17, District Court; Rückgabe an Geschädigte",
        "",
    ],
)
def test_public_material_and_prose_pass(text: str) -> None:
    assert private_key_in(text) is None


def test_a_bare_32_byte_hex_value_is_refused_unless_the_caller_knows_it() -> None:
    assert private_key_in(f"refund of {HEX_SECRET}") == HEX_VALUE
    assert private_key_in(f"0x{HEX_SECRET.upper()}") == HEX_VALUE
    assert private_key_in(f"refund of {TXID}", hex_allowed={TXID}.__contains__) is None
    assert private_key_in(f"refund of {HEX_SECRET}", hex_allowed={TXID}.__contains__) == HEX_VALUE
    # structured text (descriptors, keys) carries hashes and x-only keys: no hex rule there
    assert private_key_in(f"tr({HEX_SECRET})", hex32=False) is None
    # a longer hex run is not a 32-byte value
    assert private_key_in(HEX_SECRET * 2) is None


def test_json_is_walked_keys_and_values() -> None:
    assert private_key_in_json({"a": [1, {"b": f"note {WIFS['testnet compressed']}"}]}) == WIF
    assert private_key_in_json({TPRV: 1}) == "tprv…"
    assert private_key_in_json({"txid": TXID, "n": [1, 2.5, None, True]}) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [({"memo": f"key {WIFS['mainnet compressed']}"}, "memo"), ({"metadata": {"note": TPRV}}, "metadata")],
)
def test_the_ledger_refuses_a_key_in_a_posting_or_a_reservation_and_posts_nothing(
    cold: Any, equity: Any, changes: dict[str, Any], field: str
) -> None:
    # The books are written by raw SQL (no ORM save to guard): the posting path checks itself.
    legs = [EntrySpec(account=cold, amount_sats=5), EntrySpec(account=equity, amount_sats=-5)]
    with pytest.raises(ValidationFailed) as caught:
        post_transaction(idempotency_key="k-secret", entries=legs, kind="purchase", **changes)
    assert list(caught.value.fields) == [field]
    post_transaction(idempotency_key="k-fund", entries=legs, kind="purchase")
    with pytest.raises(ValidationFailed) as caught:
        outgoing = [EntrySpec(account=equity, amount_sats=5), EntrySpec(account=cold, amount_sats=-5)]
        pending_create(idempotency_key="k-pending", entries=outgoing, kind="reserve", **changes)
    assert list(caught.value.fields) == [field]
    assert JournalTransaction.objects.count() == 1 and not PendingTransaction.objects.exists()
