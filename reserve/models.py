"""Django loads an app's models from here; each model is defined in its subdomain's models.py."""

from reserve.access.models import EnrolmentCode
from reserve.api.models import ApiIdempotencyKey
from reserve.audit.models import AuditEvent
from reserve.compliance.models import FiatTotal
from reserve.custody.models import (
    Agency,
    AgencyKind,
    Counterparty,
    CounterpartyKind,
    LabelType,
    MembershipStatus,
    Network,
    Wallet,
    WalletDescriptor,
    WalletKind,
    WalletLabel,
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
    BuiltPsbt,
    PsbtStatus,
    SignatureUpload,
    Transfer,
    TransferDirection,
    TransferStatus,
    UtxoFreeze,
    UtxoReservation,
)

__all__ = [
    "Agency",
    "AgencyKind",
    "ApiIdempotencyKey",
    "Approval",
    "ApprovalDecision",
    "AuditEvent",
    "BlockStatus",
    "BuiltPsbt",
    "ChainBlock",
    "Counterparty",
    "CounterpartyKind",
    "Discrepancy",
    "DiscrepancyKind",
    "DiscrepancyStatus",
    "EnrolmentCode",
    "FiatTotal",
    "ImportApproval",
    "ImportBatch",
    "ImportDecision",
    "ImportKind",
    "ImportRow",
    "ImportStatus",
    "LabelType",
    "MembershipStatus",
    "Network",
    "OutboxMessage",
    "PriceQuote",
    "PsbtStatus",
    "ReconciliationRun",
    "ReserveProof",
    "ReserveProofChallenge",
    "RunStatus",
    "ScanCursor",
    "SignatureUpload",
    "Transfer",
    "TransferDirection",
    "TransferStatus",
    "UtxoFreeze",
    "UtxoReservation",
    "UtxoStatus",
    "Wallet",
    "WalletDescriptor",
    "WalletKind",
    "WalletLabel",
    "WalletMembership",
    "WalletUtxo",
    "WatchedScript",
]
