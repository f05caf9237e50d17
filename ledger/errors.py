"""Typed failures of the ledger, all `config.errors.ApplicationError` subclasses (hordak style)."""

from __future__ import annotations

from config.errors import ApplicationError, Conflict, ValidationFailed


class LedgerError(ApplicationError):
    code = "ledger_error"
    status = 400


class UnbalancedTransaction(LedgerError, ValidationFailed):
    """The legs of a journal transaction do not sum to zero per currency."""

    code = "unbalanced_transaction"


class ZeroAmount(LedgerError, ValidationFailed):
    code = "zero_amount"


class InsufficientFunds(LedgerError, Conflict):
    """A non-negative account would go below zero (counting open reservations)."""

    code = "insufficient_funds"
    status = 409


class IdempotencyConflict(LedgerError, Conflict):
    """An idempotency key was reused with a different payload."""

    code = "idempotency_conflict"
    status = 409


class ImmutableRecord(LedgerError, Conflict):
    """Posted transactions and entries are append-only; corrections are reversals."""

    code = "immutable_record"
    status = 409


class ImportRowError(LedgerError, ValidationFailed):
    """A historical import stopped at a bad row; nothing of the file was posted."""

    code = "import_row_invalid"

    def __init__(self, *, line: int, field: str, problem: str) -> None:
        super().__init__(f"line {line}, field {field}: {problem}", fields={field: [f"line {line}: {problem}"]})
        self.line = line
        self.field = field
