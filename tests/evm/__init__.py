"""Tests of the EVM chain driver against a real anvil node."""
