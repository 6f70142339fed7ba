"""What each role may change. Every role may read everything of its merchant."""

from __future__ import annotations

from gateway.core.accounts.models import Role

ORDERS = "orders:write"  # cancel, test orders
WEBHOOKS = "webhooks:write"  # endpoints, pings, redeliveries
PAYOUTS = "payouts:write"  # cancel payouts
APPROVE = "payouts:approve"
KEYS = "keys:write"
SETTINGS = "settings:write"  # xpubs, order defaults, branding, 2FA policy
USERS = "users:write"

PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset({ORDERS, WEBHOOKS, PAYOUTS, APPROVE, KEYS, SETTINGS, USERS}),
    # the daily work, but no approvals and no credentials
    Role.OPERATOR: frozenset({ORDERS, WEBHOOKS, PAYOUTS}),
    Role.VIEWER: frozenset(),
}


def can(role: str, permission: str) -> bool:
    """Whether ``role`` may do ``permission``."""
    return permission in PERMISSIONS.get(role, frozenset())
