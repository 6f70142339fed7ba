"""The audit log: who did what, with which key, from where."""
