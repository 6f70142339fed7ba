"""Payouts: create, approve, cancel, sign externally."""
