"""Double-entry ledger: accounts, journal transactions, entries, balances, hash chain."""
