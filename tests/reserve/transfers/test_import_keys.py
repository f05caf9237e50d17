"""Way 5 of issue 11 for historical imports: a row's key is `import:<hash of the row>`; a record
that took that key with another payload (a client's draft from before keys were fenced) is not
taken for the row: the approved batch is refused naming the line, and nothing of it is posted."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from ledger.models import JournalTransaction
from reserve.custody.models import Wallet
from reserve.imports.models import ImportKind, ImportStatus
from reserve.imports.services import import_approve, import_propose
from reserve.transfers.models import Transfer
from tests.reserve.approved_imports import checkers, import_transfers
from tests.reserve.conftest import fake_hash

pytestmark = pytest.mark.django_db


class _RolledBack(Exception):
    pass


def test_a_squatted_import_key_refuses_the_batch_naming_the_line(operator: Any, cold_wallet: Wallet) -> None:
    # given: the key the row will have (learnt from an import that is rolled back)
    text = (
        "occurred_at,direction,category,amount_btc,destination_wallet,provenance_reference,txid,vout,block_height\n"
        f"2025-01-10T10:00:00Z,inbound,forfeiture,1.5,{cold_wallet.name},Order 1,{fake_hash('h1')},0,800000\n"
    )
    try:
        with transaction.atomic():
            key = import_transfers(text=text, proposer=operator)[0].idempotency_key
            raise _RolledBack
    except _RolledBack:
        pass
    assert key is not None and key.startswith("import:")
    # and a decoy draft holding it
    decoy = Transfer.objects.create(
        direction="inbound",
        category="donation",
        amount_sats=1,
        destination_wallet=cold_wallet,
        proposer=operator,
        idempotency_key=key,
        request_hash="0" * 64,
    )
    # when: the file is proposed and approved by the quorum
    batch = import_propose(kind=ImportKind.TRANSFERS, data=text, actor=operator)
    for checker in checkers():
        if batch.status == ImportStatus.PENDING_APPROVAL:
            batch = import_approve(batch=batch, actor=checker, file_sha256=batch.file_sha256)
    # then: refused at line 2, naming the record that holds the key; nothing posted
    assert (batch.status, batch.refused_line) == (ImportStatus.REFUSED, 2)
    assert f"#{decoy.pk}" in batch.refused_reason
    assert list(Transfer.objects.values_list("pk", flat=True)) == [decoy.pk]
    assert not JournalTransaction.objects.exists()
