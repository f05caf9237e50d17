"""The treasury's working records; see each module for one group of them."""

from reserve.models.api_idempotency import ApiIdempotencyKey
from reserve.models.audit import AuditEvent
from reserve.models.chainstate import (
    BlockStatus,
    ChainBlock,
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    OutboxMessage,
    ReconciliationRun,
    RunStatus,
    ScanCursor,
    UtxoStatus,
    WalletUtxo,
)
from reserve.models.custody import Agency, AgencyKind, Network, Wallet, WalletDescriptor, WalletKind, WatchedScript
from reserve.models.pricing import PriceQuote
from reserve.models.proofs import ReserveProof, ReserveProofChallenge
from reserve.models.transfers import (
    Approval,
    ApprovalDecision,
    Counterparty,
    CounterpartyKind,
    Transfer,
    TransferCategory,
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
    "Network",
    "OutboxMessage",
    "PriceQuote",
    "ReconciliationRun",
    "ReserveProof",
    "ReserveProofChallenge",
    "RunStatus",
    "ScanCursor",
    "Transfer",
    "TransferCategory",
    "TransferDirection",
    "TransferStatus",
    "UtxoStatus",
    "Wallet",
    "WalletDescriptor",
    "WalletKind",
    "WalletUtxo",
    "WatchedScript",
]
