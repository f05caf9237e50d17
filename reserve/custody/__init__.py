"""Custody: holding agencies, counterparties, watch-only wallets, their addresses and descriptors."""
