"""The address book: destinations payouts may go to."""
