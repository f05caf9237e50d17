"""REST API under /api/v1/: thin views over reserve, ledger and policy services and selectors."""
