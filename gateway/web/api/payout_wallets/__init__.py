"""Payout wallets: register, list, read."""
