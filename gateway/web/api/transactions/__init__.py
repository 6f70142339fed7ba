"""The ledger's movements, as JSON pages or a CSV export."""
