"""Dashboard accounts: users of a merchant, their roles, passwords, 2FA, sessions and the
merchant's dashboard settings. No Flask: the web layer passes secrets and addresses in."""
