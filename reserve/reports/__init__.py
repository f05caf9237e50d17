"""Read-only reports for auditors (holdings, wallet balances, labels), each stated at a time and a block."""
