"""Errors of the chain layer: the node cannot be used, or what it sent cannot be trusted."""

from __future__ import annotations

from config.errors import ApplicationError


class ChainError(ApplicationError):
    code = "chain_error"
    status = 502


class NodeUnavailable(ChainError):
    """The node did not answer (refused, timed out, bad credentials) after the retries."""

    code = "node_unavailable"
    status = 503


class WrongNetwork(ChainError):
    """The node follows another chain than BITCOIN_NETWORK says (its genesis block differs)."""

    code = "wrong_network"
    status = 503


class NodeRpcError(ChainError):
    """The node answered with a JSON-RPC error (unknown block, rejected transaction, ...)."""

    code = "node_rpc_error"

    def __init__(self, message: str, *, rpc_code: int, method: str) -> None:
        super().__init__(f"{method}: {message} (rpc code {rpc_code})")
        self.rpc_code = rpc_code
        self.method = method
        self.rpc_message = message


class BlockVerificationError(ChainError):
    """A block (or header) the node sent fails a consensus check; it must not be scanned."""

    code = "block_invalid"

    def __init__(self, reason: str, *, block_hash: str | None = None) -> None:
        message = f"block {block_hash}: {reason}" if block_hash else reason
        super().__init__(message)
        self.reason = reason
        self.block_hash = block_hash


class MalformedBlock(BlockVerificationError):
    """The bytes are not a serialized block (truncated, trailing bytes, bad encoding)."""

    code = "block_malformed"


class MerkleProofError(ChainError):
    """A merkle proof (gettxoutproof / merkleblock) is malformed or does not prove what it claims."""

    code = "merkle_proof_invalid"
