"""Django loads an app's models from here; each model is defined in its subdomain's models.py."""

from reserve.access.models import EnrolmentCode
from reserve.api.models import ApiIdempotencyKey
from reserve.audit.models import AuditEvent
from reserve.custody.models import (
    Agency,
    AgencyKind,
    Counterparty,
    CounterpartyKind,
    MembershipStatus,
    Network,
    Wallet,
    WalletDescriptor,
    WalletKind,
    WalletMembership,
    WatchedScript,
)
from reserve.imports.models import ImportApproval, ImportBatch, ImportDecision, ImportKind, ImportRow, ImportStatus
from reserve.outbox.models import OutboxMessage
from reserve.pricing.models import PriceQuote
from reserve.proofs.models import ReserveProof, ReserveProofChallenge
from reserve.reconciliation.models import (
    BlockStatus,
    ChainBlock,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    ReconciliationRun,
    RunStatus,
    ScanCursor,
    UtxoStatus,
    WalletUtxo,
)
from reserve.transfers.models import (
    Approval,
    ApprovalDecision,
    Transfer,
    TransferDirection,
    TransferStatus,
)

__all__ = [
    "Agency",
    "AgencyKind",
    "ApiIdempotencyKey",
    "Approval",
    "ApprovalDecision",
    "AuditEvent",
    "BlockStatus",
    "ChainBlock",
    "Counterparty",
    "CounterpartyKind",
    "Discrepancy",
    "DiscrepancyKind",
    "DiscrepancyStatus",
    "EnrolmentCode",
    "ImportApproval",
    "ImportBatch",
    "ImportDecision",
    "ImportKind",
    "ImportRow",
    "ImportStatus",
    "MembershipStatus",
    "Network",
    "OutboxMessage",
    "PriceQuote",
    "ReconciliationRun",
    "ReserveProof",
    "ReserveProofChallenge",
    "RunStatus",
    "ScanCursor",
    "Transfer",
    "TransferDirection",
    "TransferStatus",
    "UtxoStatus",
    "Wallet",
    "WalletDescriptor",
    "WalletKind",
    "WalletMembership",
    "WalletUtxo",
    "WatchedScript",
]
