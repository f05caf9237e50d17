"""Wallet registration: ledger account, watched scripts to the gap limit, refusals that store nothing."""

from typing import Any

import pytest
from django.contrib.auth.models import Group

from config.errors import PermissionDenied, ValidationFailed
from ledger.models import Account
from reserve.audit.models import AuditEvent
from reserve.custody.models import Agency, Wallet, WalletDescriptor, WatchedScript
from reserve.custody.services import wallet_extend_gap, wallet_register, wallet_update
from tests.reserve.conftest import REGTEST_EXTERNAL, TPUB_A

XPRV = "xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U"


def test_register_creates_account_descriptor_and_scripts_to_the_gap_limit(operator: Any, agency: Agency) -> None:
    # when
    wallet = wallet_register(
        name="Cold 01",
        agency=agency,
        kind="cold",
        network="regtest",
        in_perimeter=True,
        birthday_height=100,
        gap_limit=5,
        descriptors=[f"wpkh([73c5da0a/84h/1h/0h]{TPUB_A}/<0;1>/*)"],
        addresses=[REGTEST_EXTERNAL],
        actor=operator,
    )
    # then
    account = wallet.ledger_account
    assert (account.code, account.account_type, account.non_negative) == ("assets:custody:cold-01", "asset", True)
    descriptor = WalletDescriptor.objects.get(wallet=wallet)
    assert descriptor.descriptor.endswith("#" + descriptor.descriptor.rsplit("#", 1)[1])
    assert descriptor.next_index == {"0": 5, "1": 5}
    scripts = WatchedScript.objects.filter(wallet=wallet)
    assert scripts.filter(chain=0).count() == 5
    assert scripts.filter(chain=1).count() == 5
    assert scripts.filter(descriptor__isnull=True).get().address == REGTEST_EXTERNAL
    assert scripts.get(chain=0, index=0).derivation_path == "m/84h/1h/0h/0/0"
    event = AuditEvent.objects.get(action="wallet.register")
    assert event.after is not None
    assert (event.actor, event.object_id, event.after["watched_scripts"]) == (operator, str(wallet.pk), 11)


def _count() -> tuple[int, int, int, int]:
    return Wallet.objects.count(), Account.objects.count(), WatchedScript.objects.count(), AuditEvent.objects.count()


@pytest.mark.parametrize(
    ("descriptors", "addresses", "field", "message"),
    [
        ([f"wpkh({XPRV}/0/*)"], [], "descriptors[0]", "private key material"),
        ([], ["cVt4o7BGAig1UXywgGSmARhxMdzP5qvQsxKkSsc1XEkw3tDTQFpy"], "addresses[0]", "private key material"),
        ([], ["tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"], "addresses[0]", "this wallet is on regtest"),
        ([f"wpkh({TPUB_A}/0/*)", f"wpkh({TPUB_A}/0/*)#aaaaaaaa"], [], "descriptors[1]", "checksum #aaaaaaaa"),
        ([], [], "descriptors", "at least one descriptor or address"),
        ([], [REGTEST_EXTERNAL, REGTEST_EXTERNAL], "addresses", "listed twice"),
    ],
)
def test_refused_registration_stores_nothing(
    operator: Any, agency: Agency, descriptors: list[str], addresses: list[str], field: str, message: str
) -> None:
    # given
    before = _count()
    # when
    with pytest.raises(ValidationFailed) as caught:
        wallet_register(
            name="leaky",
            agency=agency,
            kind="hot",
            network="regtest",
            descriptors=descriptors,
            addresses=addresses,
            actor=operator,
        )
    # then
    assert message in caught.value.fields[field][0]
    assert _count() == before


def test_a_script_belongs_to_one_wallet(operator: Any, agency: Agency, cold_wallet: Wallet) -> None:
    taken = WatchedScript.objects.filter(wallet=cold_wallet, chain=0, index=0).get().address
    with pytest.raises(ValidationFailed, match="already watched by wallet cold-01"):
        wallet_register(name="twin", agency=agency, kind="hot", network="regtest", addresses=[taken], actor=operator)


def test_duplicate_name_and_bad_fields_are_named(operator: Any, agency: Agency, cold_wallet: Wallet) -> None:
    with pytest.raises(ValidationFailed) as caught:
        wallet_register(
            name="cold-01", agency=agency, kind="cold", network="regtest", addresses=[REGTEST_EXTERNAL], actor=operator
        )
    assert "already exists" in caught.value.fields["name"][0]
    with pytest.raises(ValidationFailed) as caught:
        wallet_register(
            name="x",
            agency=agency,
            kind="cold",
            network="regtest",
            gap_limit=0,
            addresses=[REGTEST_EXTERNAL],
            actor=operator,
        )
    assert "gap_limit" in caught.value.fields


def test_auditor_and_approver_cannot_register(auditor: Any, approver: Any, agency: Agency) -> None:
    for user in (auditor, approver):
        with pytest.raises(PermissionDenied):
            wallet_register(
                name="nope", agency=agency, kind="hot", network="regtest", addresses=[REGTEST_EXTERNAL], actor=user
            )
    assert not Wallet.objects.exists()


def test_extend_gap_keeps_gap_limit_unused_scripts_past_the_last_used(cold_wallet: Wallet) -> None:
    # given: gap limit 3, indexes 0..2 derived on both chains; index 2 of receive is seen on chain
    used = WatchedScript.objects.get(wallet=cold_wallet, chain=0, index=2)
    # when
    added = wallet_extend_gap(wallet=cold_wallet, used_script_pubkeys=[bytes(used.script_pubkey)])
    # then: receive derived up to index 5; change untouched
    assert added == 3
    indexes = WatchedScript.objects.filter(wallet=cold_wallet, chain=0).values_list("index", flat=True)
    assert sorted(index or 0 for index in indexes) == list(range(6))
    assert WatchedScript.objects.filter(wallet=cold_wallet, chain=1).count() == 3
    assert WatchedScript.objects.get(pk=used.pk).used
    assert WalletDescriptor.objects.get(wallet=cold_wallet).next_index == {"0": 6, "1": 3}
    # and a second call with nothing new adds nothing
    assert wallet_extend_gap(wallet=cold_wallet, used_script_pubkeys=[bytes(used.script_pubkey)]) == 0


def test_roles_exist_with_their_permissions(db: None) -> None:
    perms = {group.name: set(group.permissions.values_list("codename", flat=True)) for group in Group.objects.all()}
    assert {"operator", "approver", "policy_admin", "auditor"} <= set(perms)
    assert {"propose_transfer", "add_wallet", "execute_transfer"} <= perms["operator"]
    assert "approve_transfer" in perms["approver"] and "propose_transfer" not in perms["approver"]
    assert perms["auditor"] and all(codename.startswith("view_") for codename in perms["auditor"])
    assert {"view_transfer", "view_auditevent", "view_journaltransaction"} <= perms["auditor"]


def test_update_changes_birthday_and_gap_audits_and_derives_to_a_larger_gap(
    operator: Any, auditor: Any, cold_wallet: Wallet
) -> None:
    # when
    wallet = wallet_update(wallet=cold_wallet, actor=operator, birthday_height=7, gap_limit=5)
    # then
    assert (wallet.birthday_height, wallet.gap_limit) == (7, 5)
    assert WatchedScript.objects.filter(wallet=wallet).count() == 10
    event = AuditEvent.objects.get(action="wallet.update")
    assert event.before is not None and event.after is not None
    assert (event.before["gap_limit"], event.after["gap_limit"]) == (3, 5)
    with pytest.raises(PermissionDenied):
        wallet_update(wallet=wallet, actor=auditor, gap_limit=6)
    with pytest.raises(ValidationFailed):
        wallet_update(wallet=wallet, actor=operator, gap_limit=5000)
    assert Wallet.objects.get(pk=wallet.pk).gap_limit == 5


def test_update_cannot_touch_the_perimeter_or_the_agency(operator: Any, cold_wallet: Wallet) -> None:
    # Membership changes only by proposal and approval (tests/reserve/custody/test_membership.py).
    for field, value in (("in_perimeter", False), ("agency", None)):
        with pytest.raises(TypeError, match=field):
            wallet_update(wallet=cold_wallet, actor=operator, **{field: value})
    assert Wallet.objects.filter(pk=cold_wallet.pk, in_perimeter=True).exists()
    assert not AuditEvent.objects.filter(action="wallet.update").exists()
