"""Chain adapters: node RPC, block parsing and verification, scanning."""
