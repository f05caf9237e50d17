"""The treasury's working records; see each module for one group of them."""

from reserve.models.audit import AuditEvent
from reserve.models.custody import Agency, AgencyKind, Network, Wallet, WalletDescriptor, WalletKind, WatchedScript
from reserve.models.pricing import PriceQuote
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
    "Approval",
    "ApprovalDecision",
    "AuditEvent",
    "Counterparty",
    "CounterpartyKind",
    "Network",
    "PriceQuote",
    "Transfer",
    "TransferCategory",
    "TransferDirection",
    "TransferStatus",
    "Wallet",
    "WalletDescriptor",
    "WalletKind",
    "WatchedScript",
]
