"""Way 7 of issue 11, the class test: every CharField, TextField and JSONField of every ledger,
policy and reserve model refuses a private key, naming the field, unless it is on the reviewed
list of fields that are not free text (reserve/common/free_text.py). A new field is guarded
without anyone remembering to; a listed field must exist, and says why it is listed."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models

from config.errors import ValidationFailed
from ledger.models import Account, JournalTransaction
from policy.models import Policy
from reserve.common.free_text import (
    NOT_FREE_TEXT,
    STRUCTURED,
    free_text_check,
    guarded_models,
    known_chain_hash,
    text_fields,
)
from reserve.custody.models import Agency
from reserve.pricing.models import PriceQuote
from reserve.transfers.models import Transfer
from tests.secret_keys import HEX_SECRET, TPRV, WIF_MAINNET, WIFS

FIELDS = [(model, field) for model in guarded_models() for field in text_fields(model)]


def _label(model: type[models.Model], field: Any) -> str:
    return f"{model._meta.label_lower}.{field.name}"


GUARDED = [(model, field) for model, field in FIELDS if _label(model, field) not in NOT_FREE_TEXT]


def _holding(field: Any, secret: str) -> Any:
    return {"note": f"from the custodian: {secret}"} if isinstance(field, models.JSONField) else f"see {secret}"


@pytest.mark.parametrize(("model", "field"), GUARDED, ids=[_label(m, f) for m, f in GUARDED])
@pytest.mark.parametrize("secret", [WIF_MAINNET, WIFS["testnet uncompressed"], TPRV], ids=["wif", "wif-t", "tprv"])
def test_every_guarded_text_field_refuses_a_private_key(model: type[models.Model], field: Any, secret: str) -> None:
    instance = model()
    setattr(instance, field.attname, _holding(field, secret))
    with pytest.raises(ValidationFailed) as caught:
        free_text_check(instance)
    assert list(caught.value.fields) == [field.name]
    assert secret not in caught.value.message


def test_the_class_is_not_empty_and_covers_what_issue_11_names() -> None:
    labels = {_label(model, field) for model, field in GUARDED}
    assert {
        "reserve.transfer.memo",
        "reserve.transfer.provenance_reference",
        "reserve.wallet.name",
        "reserve.agency.name",
        "reserve.counterparty.reference",
        "reserve.approval.comment",
        "reserve.discrepancy.resolution_reason",
        "reserve.watchedscript.derivation_path",
        "reserve.pricequote.source",
        "ledger.journaltransaction.memo",
        "ledger.account.name",
        "policy.policyversion.comment",
        "policy.policyversion.rules",
        "reserve.walletdescriptor.descriptor",
    } <= labels


def test_the_reviewed_lists_name_existing_fields_with_a_reason() -> None:
    labels = {_label(model, field) for model, field in FIELDS}
    for listed in (NOT_FREE_TEXT, STRUCTURED):
        assert set(listed) <= labels, set(listed) - labels
        assert all(reason.strip() for reason in listed.values())
    assert not set(NOT_FREE_TEXT) & set(STRUCTURED)


@pytest.mark.django_db
def test_free_text_cites_only_hashes_the_books_know_structured_text_any() -> None:
    # given: a txid the books do not know
    txid = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    assert not known_chain_hash(txid)
    # then: an unknown 32-byte hex value in a memo is refused, unless it is the record's own txid;
    # in a key (structured text) it is not
    with pytest.raises(ValidationFailed) as caught:
        free_text_check(Transfer(memo=f"refund of {HEX_SECRET}"))
    assert list(caught.value.fields) == ["memo"]
    free_text_check(Transfer(memo=f"refund of {txid}", txid=txid))  # its own txid
    free_text_check(Transfer(idempotency_key=HEX_SECRET))  # a key may be a hash
    with pytest.raises(ValidationFailed):
        free_text_check(Transfer(memo=f"refund of {txid}"))
    assert JournalTransaction.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "create",
    [
        lambda: Agency.objects.create(name=f"Treasury {WIF_MAINNET}"),
        lambda: Account.objects.create(code="assets:x", account_type="asset", name=TPRV),
        lambda: Policy.objects.create(name=f"cap {WIFS['testnet compressed']}", scope_kind="perimeter"),
        lambda: PriceQuote.objects.create(currency="USD", at="2026-01-01T00:00:00Z", price=1, source=HEX_SECRET),
    ],
    ids=["agency", "account", "policy", "price"],
)
def test_any_orm_save_is_guarded_not_only_the_services(create: Any) -> None:
    # An insider's shell, a forgotten service, a new admin: the save itself refuses, nothing is stored.
    counts = [model.objects.count() for model in (Agency, Account, Policy, PriceQuote)]
    with pytest.raises(ValidationFailed):
        create()
    assert [model.objects.count() for model in (Agency, Account, Policy, PriceQuote)] == counts
