"""Imports through the whole maker-checker flow, for tests that need history in the books: the
operator proposes the file, two approvers (other people) approve it by its hash, and it posts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from reserve.imports.models import ImportBatch, ImportKind, ImportStatus
from reserve.imports.services import import_approve, import_propose
from reserve.transfers.models import Transfer
from tests.users import make_user

CHECKERS = ("import-checker-1", "import-checker-2")


def checkers() -> list[Any]:
    """Two approvers who are nobody else in the test."""
    users = get_user_model().objects
    return [users.filter(username=name).first() or make_user(name, "approver") for name in CHECKERS]


def import_approved(*, kind: str, text: str, proposer: Any) -> ImportBatch:
    """Propose `text` as `proposer` and approve it by two checkers; the batch must post."""
    batch = import_propose(kind=kind, data=text, actor=proposer)
    for checker in checkers():
        if batch.status == ImportStatus.PENDING_APPROVAL:
            batch = import_approve(batch=batch, actor=checker, file_sha256=batch.file_sha256)
    assert batch.status == ImportStatus.POSTED, (batch.refused_line, batch.refused_rule, batch.refused_reason)
    return batch


def import_transfers(*, text: str, proposer: Any) -> list[Transfer]:
    """The transfers a historical transfers file created, in file order, once approved."""
    batch = import_approved(kind=ImportKind.TRANSFERS, text=text, proposer=proposer)
    created = Transfer.objects.in_bulk(batch.outcome["created"])
    return [created[pk] for pk in batch.outcome["created"]]
