"""The dashboard's pages, one module per area; importing them attaches them to ``bp``."""

from gateway.web.dashboard.views import (  # noqa: F401
    audit,
    auth,
    keys,
    orders,
    overview,
    payouts,
    security,
    settings,
    team,
    webhooks,
)
