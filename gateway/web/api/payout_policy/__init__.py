"""The payout policy: approval threshold, daily limit, allow-list."""
