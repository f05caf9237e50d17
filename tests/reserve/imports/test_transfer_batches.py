"""Historical transfer imports are proposals: nothing posts until the quorum approves the file by
its hash, and then every row passes the policy's posting gate at its own time, or none posts."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from config.errors import Conflict, PermissionDenied, ValidationFailed
from ledger.models import JournalTransaction
from ledger.selectors import account_balance
from policy.models import PolicyEvaluation, PolicyVersion
from reserve.audit.models import AuditEvent
from reserve.custody.models import Wallet
from reserve.imports.models import ImportApproval, ImportBatch, ImportKind, ImportStatus
from reserve.imports.services import import_approve, import_propose, import_reject
from reserve.transfers.models import Transfer
from tests.owner import behind_the_triggers
from tests.reserve.conftest import REGTEST_EXTERNAL, fake_hash
from tests.users import make_user

pytestmark = pytest.mark.django_db

HEADER = (
    "occurred_at,direction,category,amount_btc,fee_btc,source_wallet,destination_wallet,external_address,"
    "provenance_reference,txid,vout,block_height\n"
)


def seizure_then_sale(cold: Wallet) -> str:
    return (
        HEADER
        + f"2025-01-10T10:00:00Z,inbound,forfeiture,2,,,{cold.name},,Order 1,{fake_hash('s1')},0,800000\n"
        + f"2025-03-10T10:00:00Z,outbound,sale,1,0.0001,{cold.name},,{REGTEST_EXTERNAL},,{fake_hash('s2')},0,800200\n"
    )


def history(cold: Wallet, vault: Wallet) -> str:
    return (
        HEADER
        + f"2025-01-10T10:00:00Z,inbound,forfeiture,1.5,,,{cold.name},,Order 1,{fake_hash('h1')},0,800000\n"
        + f"2025-02-10T10:00:00Z,internal,internal_consolidation,1,0.0001,{cold.name},{vault.name},,,"
        f"{fake_hash('h2')},0,800100\n"
        + f"2025-03-10T10:00:00Z,outbound,return_to_victims,0.2,0.00002,{cold.name},,{REGTEST_EXTERNAL},Order 2,"
        f"{fake_hash('h3')},1,800200\n"
    )


def propose_by_command(tmp_path: Path, text: str, user: Any) -> tuple[ImportBatch, str]:
    path = tmp_path / "history.csv"
    path.write_text(text)
    output = StringIO()
    call_command("import_transfers", str(path), user=user.username, stdout=output)
    return ImportBatch.objects.get(), output.getvalue()


def nothing_posted() -> None:
    assert not Transfer.objects.exists()
    assert not JournalTransaction.objects.exists()


def test_a_sale_out_of_a_no_disposal_wallet_is_refused_at_the_quorum_naming_row_and_rule(
    maker_checker: Any,
    approver: Any,
    approver2: Any,
    cold_wallet: Wallet,
    no_disposal: PolicyVersion,
    tmp_path: Path,
) -> None:
    # given: one person, operator and approver, imports a seizure and then a sale
    batch, printed = propose_by_command(tmp_path, seizure_then_sale(cold_wallet), maker_checker)
    # then: a pending batch, named with its id and hash, and nothing in the books
    assert f"import batch #{batch.pk}" in printed and batch.file_sha256 in printed
    assert (batch.status, batch.kind, batch.rows.count()) == (ImportStatus.PENDING_APPROVAL, "transfers", 2)
    nothing_posted()
    # when: the same person approves their own file, through the service and with raw SQL
    with pytest.raises(PermissionDenied, match="proposer"):
        import_approve(batch=batch, actor=maker_checker, file_sha256=batch.file_sha256)
    with pytest.raises(DatabaseError, match="proposer"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reserve_importapproval (batch_id, approver_id, decision, file_sha256, comment, at)"
            " VALUES (%s, %s, 'approve', %s, '', now())",
            [batch.pk, maker_checker.pk, batch.file_sha256],
        )
    # then: no approval counted, nothing posted
    assert not ImportApproval.objects.exists()
    nothing_posted()
    # when: two other approvers approve
    batch = import_approve(batch=batch, actor=approver, file_sha256=batch.file_sha256)
    assert batch.status == ImportStatus.PENDING_APPROVAL
    nothing_posted()
    batch = import_approve(batch=batch, actor=approver2, file_sha256=batch.file_sha256)
    # then: refused at line 3 by no_disposal; nothing posted, the evaluation kept
    batch.refresh_from_db()
    assert (batch.status, batch.refused_line, batch.refused_rule) == (ImportStatus.REFUSED, 3, "no_disposal")
    assert "sale" in batch.refused_reason.lower()
    nothing_posted()
    assert batch.evaluation_id is not None
    evaluation = PolicyEvaluation.objects.get(pk=batch.evaluation_id)
    assert (evaluation.gate, evaluation.outcome) == ("posting", "deny")
    assert account_balance(account=cold_wallet.ledger_account) == 0
    # and: the audit trail holds the proposal, both approvals and the refusal
    actions = list(
        AuditEvent.objects.filter(object_type__startswith="reserve.import")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["importbatch.propose", "importapproval.create", "importapproval.create", "importbatch.refuse"]
    # and: a refused batch takes no further approval
    with pytest.raises(Conflict, match="refused"):
        import_approve(batch=batch, actor=make_user("carla", "approver"), file_sha256=batch.file_sha256)


def test_a_clean_file_posts_every_row_exactly_once_on_the_quorum(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet, vault_wallet: Wallet, no_disposal: Any
) -> None:
    # given
    batch = import_propose(kind=ImportKind.TRANSFERS, data=history(cold_wallet, vault_wallet), actor=operator)
    # when: the first approval
    batch = import_approve(batch=batch, actor=approver, file_sha256=batch.file_sha256)
    # then: still nothing posted
    nothing_posted()
    # when: the approval that reaches the quorum
    batch = import_approve(batch=batch, actor=approver2, file_sha256=batch.file_sha256)
    # then: every row posted once, back-dated, final
    assert batch.status == ImportStatus.POSTED
    assert len(batch.outcome["created"]) == 3
    assert set(Transfer.objects.values_list("status", flat=True)) == {"final"}
    assert JournalTransaction.objects.count() == 3
    assert account_balance(account=cold_wallet.ledger_account) == 150_000_000 - 100_010_000 - 20_002_000
    assert account_balance(account=vault_wallet.ledger_account) == 100_000_000
    assert AuditEvent.objects.filter(action="transfer.import").count() == 3
    assert PolicyEvaluation.objects.filter(gate="posting", outcome="allow").count() == 3
    # when: the approval is replayed, and a third approver arrives late
    with pytest.raises(Conflict):
        import_approve(batch=batch, actor=approver2, file_sha256=batch.file_sha256)
    with pytest.raises(Conflict, match="posted"):
        import_approve(batch=batch, actor=make_user("carla", "approver"), file_sha256=batch.file_sha256)
    # and: the same file is proposed and approved again
    again = import_propose(kind=ImportKind.TRANSFERS, data=history(cold_wallet, vault_wallet), actor=operator)
    again = import_approve(batch=again, actor=approver, file_sha256=again.file_sha256)
    again = import_approve(batch=again, actor=approver2, file_sha256=again.file_sha256)
    # then: nothing new
    assert (again.status, again.outcome["created"], len(again.outcome["unchanged"])) == (ImportStatus.POSTED, [], 3)
    assert JournalTransaction.objects.count() == 3
    assert Transfer.objects.count() == 3


def test_an_approval_binds_the_hash_the_approver_saw(
    operator: Any, approver: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    batch = import_propose(kind=ImportKind.TRANSFERS, data=history(cold_wallet, vault_wallet), actor=operator)
    other_file = "0" * 64
    with pytest.raises(Conflict) as caught:
        import_approve(batch=batch, actor=approver, file_sha256=other_file)
    assert "file_sha256" in caught.value.fields
    with pytest.raises(DatabaseError, match="file hash"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reserve_importapproval (batch_id, approver_id, decision, file_sha256, comment, at)"
            " VALUES (%s, %s, 'approve', %s, '', now())",
            [batch.pk, approver.pk, other_file],
        )
    assert not ImportApproval.objects.exists()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE reserve_importrow SET cells = jsonb_set(cells, '{category}', '\"sale\"') WHERE batch_id = %s",
        "DELETE FROM reserve_importrow WHERE batch_id = %s",
        "UPDATE reserve_importbatch SET file_sha256 = repeat('0', 64) WHERE id = %s",
        "UPDATE reserve_importbatch SET proposer_id = proposer_id + 1 WHERE id = %s",
        "DELETE FROM reserve_importbatch WHERE id = %s",
    ],
)
def test_the_database_refuses_to_change_what_was_proposed(
    operator: Any, cold_wallet: Wallet, vault_wallet: Wallet, statement: str
) -> None:
    # given
    batch = import_propose(kind=ImportKind.TRANSFERS, data=history(cold_wallet, vault_wallet), actor=operator)
    rows_before = list(batch.rows.values_list("line", "cells"))
    # when / then: the service's own connection is refused
    params = [batch.pk] * statement.count("%s")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
    # and nothing changed
    batch.refresh_from_db()
    assert list(batch.rows.values_list("line", "cells")) == rows_before
    assert batch.proposer_id == operator.pk


@pytest.mark.django_db(transaction=True)
def test_no_row_joins_a_batch_after_the_transaction_that_proposed_it(
    operator: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    # given: a batch proposed and committed
    batch = import_propose(kind=ImportKind.TRANSFERS, data=history(cold_wallet, vault_wallet), actor=operator)
    # when / then: a later transaction adds a row
    refused = pytest.raises(DatabaseError, match="only by the transaction that proposed it")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO reserve_importrow (batch_id, line, cells) VALUES (%s, 99, '{}')", [batch.pk])
    assert batch.rows.count() == 3


@pytest.mark.django_db(transaction=True)
def test_rows_changed_behind_the_triggers_cannot_be_approved(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    # given: the database owner edits a row with the trigger switched off
    batch = import_propose(kind=ImportKind.TRANSFERS, data=history(cold_wallet, vault_wallet), actor=operator)
    import_approve(batch=batch, actor=approver, file_sha256=batch.file_sha256)
    with behind_the_triggers("reserve_importrow") as cursor:  # the owner's power
        cursor.execute(
            "UPDATE reserve_importrow SET cells = jsonb_set(cells, '{amount_btc}', '\"1.4\"') "
            "WHERE batch_id = %s AND line = 2",
            [batch.pk],
        )
    # when / then: the approval that would reach the quorum is refused, nothing posts
    with pytest.raises(Conflict, match="changed since it was proposed"):
        import_approve(batch=batch, actor=approver2, file_sha256=batch.file_sha256)
    nothing_posted()
    assert ImportBatch.objects.get().status == ImportStatus.PENDING_APPROVAL


@pytest.mark.django_db(transaction=True)
def test_an_approval_given_to_another_hash_does_not_count(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    # given: one approval, then the owner swaps the file (hash, rows, content hash) behind the triggers
    batch = import_propose(kind=ImportKind.TRANSFERS, data=history(cold_wallet, vault_wallet), actor=operator)
    import_approve(batch=batch, actor=approver, file_sha256=batch.file_sha256)
    swapped = "f" * 64
    with behind_the_triggers("reserve_importbatch") as cursor:
        cursor.execute("UPDATE reserve_importbatch SET file_sha256 = %s WHERE id = %s", [swapped, batch.pk])
    # when: a second approver approves what the page now shows
    batch = import_approve(batch=ImportBatch.objects.get(), actor=approver2, file_sha256=swapped)
    # then: the first approval was for another file: one of two, nothing posted
    assert batch.status == ImportStatus.PENDING_APPROVAL
    nothing_posted()


def test_a_bad_line_is_refused_at_proposal_naming_line_and_column(
    operator: Any, cold_wallet: Wallet, vault_wallet: Wallet, tmp_path: Path
) -> None:
    lines = history(cold_wallet, vault_wallet).splitlines()
    lines[3] = lines[3].replace(",return_to_victims,0.2,", ",return_to_victims,0.000000001,")
    with pytest.raises(ValidationFailed) as caught:
        import_propose(kind=ImportKind.TRANSFERS, data="\n".join(lines) + "\n", actor=operator)
    assert caught.value.fields["amount_btc"][0].startswith("line 4: ")
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match=r"nothing proposed: line 4, amount_btc"):
        call_command("import_transfers", str(path), user=operator.username)
    assert not ImportBatch.objects.exists()
    nothing_posted()


def test_an_overdraft_in_history_refuses_the_batch_at_the_quorum(
    operator: Any, approver: Any, approver2: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    lines = history(cold_wallet, vault_wallet).splitlines()
    lines[3] = lines[3].replace(",return_to_victims,0.2,", ",return_to_victims,2,")
    batch = import_propose(kind=ImportKind.TRANSFERS, data="\n".join(lines) + "\n", actor=operator)
    import_approve(batch=batch, actor=approver, file_sha256=batch.file_sha256)
    batch = import_approve(batch=batch, actor=approver2, file_sha256=batch.file_sha256)
    assert (batch.status, batch.refused_line) == (ImportStatus.REFUSED, 4)
    assert "below zero" in batch.refused_reason
    nothing_posted()


def test_a_rejection_needs_a_reason_and_posts_nothing(
    operator: Any, approver: Any, cold_wallet: Wallet, vault_wallet: Wallet, auditor: Any
) -> None:
    batch = import_propose(kind=ImportKind.TRANSFERS, data=history(cold_wallet, vault_wallet), actor=operator)
    with pytest.raises(PermissionDenied):
        import_approve(batch=batch, actor=auditor, file_sha256=batch.file_sha256)
    with pytest.raises(PermissionDenied):
        import_propose(kind=ImportKind.TRANSFERS, data=history(cold_wallet, vault_wallet), actor=auditor)
    with pytest.raises(ValidationFailed):
        import_reject(batch=batch, actor=approver, file_sha256=batch.file_sha256, comment=" ")
    batch = import_reject(batch=batch, actor=approver, file_sha256=batch.file_sha256, comment="wrong file")
    assert batch.status == ImportStatus.REJECTED
    nothing_posted()


def test_the_database_refuses_an_approval_by_someone_without_the_role(
    operator: Any, auditor: Any, cold_wallet: Wallet, vault_wallet: Wallet
) -> None:
    # given: a pending batch, and an auditor who may not approve
    batch = import_propose(kind=ImportKind.TRANSFERS, data=history(cold_wallet, vault_wallet), actor=operator)
    # when / then: an approval row written by raw SQL for the auditor, with the right hash, is refused
    refused = pytest.raises(DatabaseError, match=r"does not hold reserve\.approve_transfer")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reserve_importapproval (batch_id, approver_id, decision, file_sha256, comment, at)"
            " VALUES (%s, %s, 'approve', %s, '', now())",
            [batch.pk, auditor.pk, batch.file_sha256],
        )
    assert not ImportApproval.objects.exists()
