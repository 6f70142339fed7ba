"""Marshmallow schemas of the audit log resource."""

from __future__ import annotations

import marshmallow as ma

from gateway.core.schemas import Timestamp
from gateway.web.api.common import ListArgs, list_schema


class AuditEntrySchema(ma.Schema):
    """One action on money or credentials: who, from where, what, on which object."""

    id = ma.fields.String(metadata={"example": "aud_3kq0c4v9x2m7b1n8z5wa"})
    object = ma.fields.Constant("audit_entry")
    action = ma.fields.String(metadata={"example": "payout.approve"})
    actor = ma.fields.String(
        metadata={"description": "The API key id that acted, or `cli` for the operator."}
    )
    ip = ma.fields.String(allow_none=True, metadata={"description": "Where the request came from."})
    subject = ma.fields.String(allow_none=True, metadata={"description": "The object acted on."})
    details = ma.fields.Dict()
    created_at = Timestamp()


class AuditListArgs(ListArgs):
    """Filters of the audit log."""

    action = ma.fields.String(validate=ma.validate.Length(1, 64))
    actor = ma.fields.String(validate=ma.validate.Length(1, 64))
    created_gte = ma.fields.AwareDateTime(
        default_timezone=None, metadata={"description": "Created at or after."}
    )
    created_lt = ma.fields.AwareDateTime(
        default_timezone=None, metadata={"description": "Created before."}
    )


AuditListSchema = list_schema(AuditEntrySchema)
