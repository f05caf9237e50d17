"""Pricing: BTC price quotes and the fiat value of sats at the quote in force."""
