"""Marshmallow schemas of the webhook endpoint and delivery resources."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from gateway.core.events import TYPES
from gateway.core.schemas import Timestamp
from gateway.web.api.common import ListArgs, list_schema
from webhooks.models import DeliveryStatus

_types_doc = f"Event types to receive, or `*` for all: {', '.join(TYPES)}."


def _event_types(**kwargs) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf((*TYPES, "*"))),
        validate=ma.validate.Length(min=1, max=len(TYPES) + 1),
        metadata={"description": _types_doc, "example": ["order.paid"]},
        **kwargs,
    )


def _url(**kwargs) -> ma.fields.URL:
    return ma.fields.URL(
        schemes={"http", "https"},
        require_tld=False,
        validate=ma.validate.Length(max=2048),
        metadata={
            "description": "Where events are POSTed.",
            "example": "https://shop.example/hook",
        },
        **kwargs,
    )


class EndpointCreateSchema(ma.Schema):
    """What a shop sends to register an endpoint."""

    url = _url(required=True)
    event_types = _event_types(required=True)
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    enabled = ma.fields.Boolean(load_default=True)


class EndpointUpdateSchema(ma.Schema):
    """The fields of an endpoint that can change; omitted ones stay as they are."""

    url = _url()
    event_types = _event_types()
    description = ma.fields.String(validate=ma.validate.Length(max=500))
    enabled = ma.fields.Boolean()


class EndpointSchema(ma.Schema):
    """A webhook endpoint (its secret is shown only when created or rotated)."""

    id = ma.fields.String(metadata={"example": "whk_3kq0c4v9x2m7b1n8z5wa"})
    object = ma.fields.Constant("webhook_endpoint")
    url = ma.fields.String()
    event_types = ma.fields.List(ma.fields.String())
    enabled = ma.fields.Boolean()
    description = ma.fields.String()
    disabled_reason = ma.fields.String(allow_none=True)
    failing_since = Timestamp(
        allow_none=True,
        metadata={"description": "Set when a delivery used up its retries."},
    )
    previous_secret_expires_at = Timestamp(
        allow_none=True,
        metadata={"description": "Until then the previous secret signs too."},
    )
    created_at = Timestamp()
    updated_at = Timestamp()

    @ma.post_dump(pass_original=True)
    def _overlap_only_while_a_previous_secret_signs(
        self, data: dict[str, Any], endpoint: Any, **kwargs: Any
    ) -> dict[str, Any]:
        if not endpoint.previous_secret:
            data["previous_secret_expires_at"] = None
        return data


class EndpointWithSecretSchema(EndpointSchema):
    """An endpoint with its signing secret: store it now, it is not shown again."""

    secret = ma.fields.String(metadata={"example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})


class AttemptSchema(ma.Schema):
    """One HTTP request of a delivery."""

    id = ma.fields.String()
    started_at = Timestamp()
    status_code = ma.fields.Integer(allow_none=True)
    latency_ms = ma.fields.Integer()
    response_excerpt = ma.fields.String(metadata={"description": "First 1 KB of the answer."})
    error = ma.fields.String(allow_none=True, metadata={"description": "Why no answer came."})


class DeliverySchema(ma.Schema):
    """One event on its way to one endpoint."""

    id = ma.fields.String(metadata={"example": "dlv_3kq0c4v9x2m7b1n8z5wa"})
    object = ma.fields.Constant("webhook_delivery")
    event_id = ma.fields.String(metadata={"description": "Also the webhook-id header."})
    endpoint_id = ma.fields.String()
    status = ma.fields.String(metadata={"enum": [str(s) for s in DeliveryStatus]})
    attempt_count = ma.fields.Integer()
    next_attempt_at = Timestamp(allow_none=True)
    last_status_code = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    created_at = Timestamp()
    updated_at = Timestamp()
    delivered_at = Timestamp(allow_none=True)

    @ma.post_dump(pass_original=True)
    def _next_attempt_only_while_pending(
        self, data: dict[str, Any], delivery: Any, **kwargs: Any
    ) -> dict[str, Any]:
        if delivery.status != DeliveryStatus.PENDING:
            data["next_attempt_at"] = None
        return data


class DeliveryDetailSchema(DeliverySchema):
    """A delivery with every attempt, oldest first."""

    attempts = ma.fields.List(ma.fields.Nested(AttemptSchema))


EndpointListSchema = list_schema(EndpointSchema)
DeliveryListSchema = list_schema(DeliverySchema)


class DeliveryListArgs(ListArgs):
    """Filters of the delivery list."""

    endpoint_id = ma.fields.String(validate=ma.validate.Length(1, 64))
    event_id = ma.fields.String(validate=ma.validate.Length(1, 64))
    status = ma.fields.String(validate=ma.validate.OneOf([str(s) for s in DeliveryStatus]))
