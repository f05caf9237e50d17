"""Fixtures shared by every test package."""

# Live regtest node fixtures (regtest_node, regtest_source, segwit_chain): see tests/regtest/fixtures.py.
pytest_plugins = ["tests.regtest.fixtures"]
