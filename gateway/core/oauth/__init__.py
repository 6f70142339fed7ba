"""OAuth 2.0 client credentials (RFC 6749 section 4.4) with JWT access tokens (RFC 9068)."""
