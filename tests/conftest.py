"""Shared fixtures; the chain fixtures live in tests/fixtures/ and load as plugins."""

pytest_plugins = ["tests.fixtures.devnet", "tests.fixtures.tron"]
