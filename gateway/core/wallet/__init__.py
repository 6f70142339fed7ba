"""The back office: payout wallets, the ledger, payouts, refunds, reconciliation."""
