"""Audit: the append-only trail of every state change, and the request id that tags it."""
