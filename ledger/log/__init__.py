"""The transparency log of the journal (RFC 9162): Merkle hashing, the sealer, signed tree heads, proofs."""
