"""Treasury domain: agencies, custody wallets, transfers, approvals, chain reconciliation."""
