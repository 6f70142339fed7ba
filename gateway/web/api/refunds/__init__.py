"""Refunds: payouts that pay back (part of) what an order received."""
