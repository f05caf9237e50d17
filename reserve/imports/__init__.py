"""Imports as proposals: a CSV file held as a batch until the quorum approves it, then posted."""
