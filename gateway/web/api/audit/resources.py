"""The audit log resource: read-only."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import g
from flask.views import MethodView

from gateway.core.audit import AuditEntry
from gateway.web import db
from gateway.web.api.audit.schemas import AuditListArgs, AuditListSchema
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema, page
from gateway.web.auth import require

blp = Blueprint(
    "audit_log", __name__, description="The audit log: who did what, with which key, from where."
)


@blp.route("")
class AuditLog(MethodView):
    @require("audit:read")
    @blp.arguments(AuditListArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, AuditListSchema)
    @blp.alt_response(401, schema=ApiErrorSchema, description="Missing or invalid API key")
    def get(self, args: dict[str, Any]):
        """List the audit log, newest first

        Filter by action (`payout.create`, `payout.approve`, `payout.cancel`,
        `payout.sign`, `payout_wallet.create`, `address_book.add`, ...), by actor (an API
        key id, or `cli`) and by time; page with `starting_after`.
        """
        query = sa.select(AuditEntry).where(AuditEntry.merchant_id == g.merchant_id)
        for name in ("action", "actor"):
            if name in args:
                query = query.where(getattr(AuditEntry, name) == args[name])
        if "created_gte" in args:
            query = query.where(AuditEntry.created_at >= args["created_gte"])
        if "created_lt" in args:
            query = query.where(AuditEntry.created_at < args["created_lt"])
        return page(db.session(), query, AuditEntry, args, g.merchant_id)
