"""Transfers: the lifecycle and its approvals, the ends rule, the accounting map, previews and imports."""
