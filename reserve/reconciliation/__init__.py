"""Reconciliation: the chain follower, booking of blocks, runs, discrepancies and the per-wallet lock."""
