"""Proofs of reserves: message signatures over a fresh challenge, verified and turned into a statement."""
