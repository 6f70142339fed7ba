"""Balances per chain and the deposit addresses holding received money."""
