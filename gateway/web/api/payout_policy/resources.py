"""The payout policy resource: read and replace."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from gateway.core.wallet import payouts
from gateway.core.wallet import policies as service
from gateway.web import db
from gateway.web.api.back_office import actor, payout_settings
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema
from gateway.web.api.payout_policy.schemas import PolicySchema, PolicyUpdateSchema
from gateway.web.auth import require

blp = Blueprint(
    "payout_policy",
    __name__,
    description="The payout policy: approval threshold, daily limit, allow-list.",
)


@blp.route("")
class PayoutPolicy(MethodView):
    @require("wallets:write")
    @blp.response(200, PolicySchema)
    @blp.alt_response(401, schema=ApiErrorSchema, description="Missing or invalid API key")
    def get(self):
        """Get the payout policy (the configured defaults until you set one)"""
        return payouts.policy(db.session(), g.merchant_id, payout_settings())

    @require("wallets:write")
    @blp.arguments(PolicyUpdateSchema)
    @blp.response(200, PolicySchema)
    @blp.alt_response(422, schema=ApiErrorSchema, description="Invalid input")
    def put(self, body: dict[str, Any]):
        """Replace the payout policy

        Every field is required. It applies to payouts created from now on; a payout
        created before keeps whether it needed approval.
        """
        session = db.session()
        policy = service.replace(session, g.merchant_id, actor(), body, payout_settings())
        session.commit()
        return policy
